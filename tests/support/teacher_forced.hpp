#pragma once
// Teacher-forced logits of a prompt in one prefill, and the log-softmax the reference fixtures
// (tests/fixtures/reference/) record, for the tests that compare against them.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/device/forward_pass.hpp"

namespace troupe::test {

// The prompts of a fixture file (logits.json, logits_f32.json).
inline nlohmann::json reference_prompts(const std::string& fixture) {
  std::ifstream in(TROUPE_FIXTURES_DIR "/reference/" + fixture);
  REQUIRE(in);
  return nlohmann::json::parse(in)["prompts"];
}

// The KV blocks of 16 tokens one prompt of `tokens` needs.
inline KvShape kv_for(size_t tokens) {
  return {static_cast<int>(tokens + 15) / 16, 16};
}

// Every position's logits of `ids`, in one prefill through `pass` (a fresh one, of
// kv_for(ids.size())).
inline std::vector<float> teacher_forced(ForwardPass& pass, const std::vector<int32_t>& ids) {
  std::vector<int32_t> table(static_cast<size_t>(pass.kv_shape().blocks));
  for (size_t b = 0; b < table.size(); ++b) table[b] = static_cast<int32_t>(b);
  const SequenceChunk chunk{ids, 0, table, ChunkLogits::every};
  const auto logits = pass.forward(std::span(&chunk, 1));
  return {logits.begin(), logits.end()};
}

inline double log_softmax_at(const float* row, size_t vocab, size_t id) {
  const float max = *std::max_element(row, row + vocab);
  double z = 0;
  for (size_t i = 0; i < vocab; ++i) z += std::exp(double(row[i]) - max);
  return double(row[id]) - max - std::log(z);
}

inline size_t argmax(const float* row, size_t vocab) {
  return static_cast<size_t>(std::max_element(row, row + vocab) - row);
}

}  // namespace troupe::test
