// Grammar-constrained requests through the batching engine: a sequence's grammar state lives
// with the sequence, so its tokens are the same alone or batched, chunked, preempted and
// recomputed, or over a cached prefix — and every output matches the grammar.
#include <catch2/catch.hpp>
#include <random>
#include <regex>

#include "engine/grammar/gbnf.hpp"
#include "engine/grammar/grammar_words.hpp"
#include "engine/model/model.hpp"
#include "engine/serve/engine.hpp"
#include "tests/support/engine_runner.hpp"
#include "tests/support/tiny_model.hpp"

using namespace troupe;
using test::TestRequest;

namespace {

EngineConfig config_with(int64_t kv_tokens) {
  EngineConfig c;
  c.max_model_len = 256;
  c.kv_cache_memory = kv_tokens * 2 * 2 * 32 * 2;  // tokens x K,V x layers x kv_dim x F16
  return c;
}

}  // namespace

TEST_CASE("constrained engine: grammar states survive batching, chunking and preemption") {
  auto loaded = load_model(test::write_tiny_model("constrained", {}));
  REQUIRE(loaded.ok());
  const Model& m = *loaded;
  const auto eog = [&](int32_t t) { return m.tokenizer.is_eog(t); };
  auto g = grammar::parse_gbnf(R"(root ::= [a-z ]{3,30} ".")");
  REQUIRE(g.ok());
  const std::vector<int32_t> words = grammar::to_words(*g);

  std::mt19937 rng(5);
  std::vector<int32_t> shared(40);
  for (auto& t : shared) t = static_cast<int32_t>(rng() % 260);
  std::vector<TestRequest> requests;
  for (int i = 0; i < 12; ++i) {
    TestRequest r;
    r.id = "c" + std::to_string(i);
    if (i % 3 == 0) r.prompt = shared;
    for (int k = 5 + static_cast<int>(rng() % 60); k > 0; --k) {
      r.prompt.push_back(static_cast<int32_t>(rng() % 260));
    }
    r.params.temperature = i % 4 == 0 ? 0.0f : 1.0f;
    r.params.seed = 100 + static_cast<uint64_t>(i);
    r.params.max_tokens = 60;
    r.params.grammar = words;
    r.join_step = static_cast<int>(rng() % 6);
    requests.push_back(std::move(r));
  }
  EngineConfig alone_config = config_with(4096);
  alone_config.enable_prefix_caching = false;
  const auto alone = test::run_alone(m, alone_config, requests, eog);

  // Every output is the grammar's: letters and spaces, a full stop, then the end token.
  const std::regex sentence("[a-z ]{3,30}\\.");
  for (const auto& [id, samples] : alone) {
    std::string text;
    bool ended = false;
    for (int32_t t : samples[0]) {
      if (m.tokenizer.is_eog(t)) {
        ended = true;
        break;
      }
      text += m.tokenizer.token_bytes(t);
    }
    INFO(id << ": '" << text << "'");
    CHECK(ended);
    CHECK(std::regex_match(text, sentence));
  }

  for (const test::EngineVariant& v :
       test::batching_variants(config_with(8192), config_with(288))) {
    INFO(v.name);
    auto engine = Engine::create(m, v.config, eog);
    REQUIRE(engine.ok());
    const auto batched = test::run_engine(**engine, requests);
    for (const auto& r : requests) {
      INFO(r.id);
      CHECK(batched.at(r.id) == alone.at(r.id));
    }
    CHECK((*engine)->stats().kv_blocks_used == 0);
    if (v.name == "preempting") CHECK((*engine)->stats().preemptions > 0);
    if (v.name == "default") CHECK((*engine)->stats().prefix_cache_hits > 0);
  }
}
