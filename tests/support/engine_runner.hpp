#pragma once
// Drives an Engine to completion in tests: requests join at given steps, every sample's tokens
// are collected, and nothing else is assumed about the engine's order of work.
#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <string>
#include <vector>

#include "engine/serve/engine.hpp"

namespace troupe::test {

struct TestRequest {
  std::string id;
  std::vector<int32_t> prompt;
  SamplingParams params;
  int join_step = 0;  // the step before which it is added
};

// Tokens of every sample of every request, by request id then sample index.
using EngineOutputs = std::map<std::string, std::vector<std::vector<int32_t>>>;

inline EngineOutputs run_engine(Engine& engine, const std::vector<TestRequest>& requests) {
  EngineOutputs outputs;
  size_t next = 0;
  std::vector<const TestRequest*> pending;
  for (const auto& r : requests) pending.push_back(&r);
  std::stable_sort(pending.begin(), pending.end(),
                   [](auto* a, auto* b) { return a->join_step < b->join_step; });
  for (int step = 0; next < pending.size() || engine.has_unfinished(); ++step) {
    while (next < pending.size() && pending[next]->join_step <= step) {
      const TestRequest& r = *pending[next++];
      REQUIRE(engine.add_request(r.id, r.prompt, r.params).ok());
      outputs[r.id].resize(static_cast<size_t>(r.params.n));
    }
    for (const auto& update : engine.step().updates) {
      outputs[update.request_id][static_cast<size_t>(update.index)].push_back(update.token.token);
    }
  }
  return outputs;
}

struct EngineVariant {
  std::string name;
  EngineConfig config;
};

// Ways of running a batch that must not change what any request gets: `roomy` as it is (prefix
// caching on), `roomy` in 24-token steps (chunked prefill), and `preempting` (a KV cache too
// small for the batch).
inline std::vector<EngineVariant> batching_variants(const EngineConfig& roomy,
                                                    const EngineConfig& preempting) {
  std::vector<EngineVariant> variants = {{"default", roomy}, {"small chunks", roomy}};
  variants.back().config.scheduler.max_num_batched_tokens = 24;
  variants.push_back({"preempting", preempting});
  return variants;
}

// Each request on its own, in a fresh engine with `config` on `device`.
inline EngineOutputs run_alone(const Model& model, const EngineConfig& config,
                               const std::vector<TestRequest>& requests,
                               const Engine::EndOfGeneration& end_of_generation = {},
                               const DeviceOptions& device = {}) {
  EngineOutputs outputs;
  for (TestRequest r : requests) {
    auto engine = Engine::create(model, config, end_of_generation, device);
    REQUIRE(engine.ok());
    r.join_step = 0;
    auto one = run_engine(**engine, {r});
    outputs[r.id] = one[r.id];
  }
  return outputs;
}

// How far two runs' first samples agree, request by request: requests with the same tokens, and
// tokens before each request's first difference, of `reference`'s tokens in all.
struct Agreement {
  int equal = 0;
  int equal_tokens = 0;
  int tokens = 0;
};

inline Agreement agreement(const EngineOutputs& mine, const EngineOutputs& reference) {
  Agreement a;
  for (const auto& [id, samples] : reference) {
    const auto& ours = mine.at(id)[0];
    const auto& theirs = samples[0];
    a.equal += ours == theirs;
    const auto diverge = std::mismatch(ours.begin(), ours.end(), theirs.begin(), theirs.end());
    a.equal_tokens += static_cast<int>(diverge.first - ours.begin());
    a.tokens += static_cast<int>(theirs.size());
  }
  return a;
}

}  // namespace troupe::test
