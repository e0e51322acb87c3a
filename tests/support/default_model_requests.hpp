#pragma once
// The default model's mixed workload for the engine tests: 32 requests of varied prompts and
// lengths that join at different steps, and an engine config whose KV budget is given in
// tokens.
#include <string>
#include <vector>

#include "engine/serve/engine_config.hpp"
#include "engine/tokenizer/tokenizer.hpp"
#include "tests/support/engine_runner.hpp"

namespace troupe::test {

inline constexpr const char* kDefaultModelTexts[] = {
    "The quick brown fox jumps over the lazy dog. ",
    "def fibonacci(n):\n    if n < 2:\n        return n\n",
    "Paris is the capital of France, and Berlin is ",
    "In 1969, astronauts landed on the Moon for the first time, and ",
    "Write a haiku about autumn leaves falling slowly: ",
    "SELECT name, price FROM products WHERE price > 100 ORDER BY ",
    "東京は日本の首都です。 ",
    "1, 1, 2, 3, 5, 8, 13, 21, ",
};

inline std::vector<TestRequest> default_model_requests(const Tokenizer& tok, bool seeded) {
  std::vector<TestRequest> out;
  for (int i = 0; i < 32; ++i) {
    std::string text;
    for (int k = 0; k <= i % 5; ++k)
      text += kDefaultModelTexts[(i + k) % std::size(kDefaultModelTexts)];
    TestRequest r{"r" + std::to_string(i), tok.encode(text, true, false), {}, i % 7};
    r.params.max_tokens = 6 + i % 11;
    r.params.temperature = seeded ? 0.8f : 0.0f;
    if (seeded) r.params.seed = static_cast<uint64_t>(i);
    out.push_back(std::move(r));
  }
  return out;
}

inline EngineConfig default_model_engine_config(int64_t kv_tokens) {
  EngineConfig c;
  c.max_model_len = 1024;
  c.kv_cache_memory = kv_tokens * 2 * 30 * 192 * 2;  // K,V x layers x kv_dim x F16
  return c;
}

}  // namespace troupe::test
