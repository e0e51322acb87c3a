#pragma once
// Random values of every actor message type for property tests, over each field's whole range,
// including the awkward ones (empty, negative, non-ASCII, huge, embedded NUL).
#include <random>
#include <string>
#include <vector>

#include "engine/serve/generate_request.hpp"
#include "engine/serve/step_plan.hpp"
#include "net/wire/messages.hpp"

namespace troupe::test {

struct Random {
  std::mt19937_64 rng;
  explicit Random(uint64_t seed) : rng(seed) {}

  int64_t integer(int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  }
  bool coin() { return integer(0, 1) == 1; }
  float real() {
    const float picks[] = {0.0f, -0.0f, 1e-30f, -2.5f, 3.25e10f, 0.7f};
    return coin() ? picks[integer(0, 5)] : std::uniform_real_distribution<float>(-5, 5)(rng);
  }
  std::string text() {
    const char* pieces[] = {"", "a", "é", "你好", "🙂", "\n", "\"", "\\u0000", "stop", " "};
    std::string s;
    for (int64_t i = integer(0, 6); i > 0; --i) s += pieces[integer(0, 9)];
    if (coin()) s.push_back('\0');
    return s;
  }
  template <typename F>
  auto list(F make, int max = 8) {
    std::vector<decltype(make())> v;
    for (int64_t i = integer(0, max); i > 0; --i) v.push_back(make());
    return v;
  }
  int32_t int32() { return static_cast<int32_t>(integer(INT32_MIN, INT32_MAX)); }
  int64_t int64() { return coin() ? integer(INT64_MIN, INT64_MAX) : integer(-3, 3); }

  SamplingParams sampling() {
    SamplingParams p;
    p.temperature = real(), p.top_p = real(), p.top_k = int32(), p.min_p = real();
    p.repetition_penalty = real(), p.presence_penalty = real(), p.frequency_penalty = real();
    p.logit_bias = list([&] { return std::pair<int32_t, float>(int32(), real()); });
    if (coin()) p.seed = static_cast<uint64_t>(integer(INT64_MIN, INT64_MAX));
    p.n = int32(), p.max_tokens = int32();
    p.stop = list([&] { return text(); });
    p.stop_token_ids = list([&] { return int32(); });
    p.ignore_eos = coin();
    p.logprobs = int32();
    p.grammar = list([&] { return int32(); });
    p.pooling = static_cast<Pooling>(integer(0, 2));
    return p;
  }
  SampledToken token() {
    SampledToken t;
    t.token = int32(), t.logprob = real();
    t.top = list([&] { return TokenLogprob{int32(), real()}; }, 5);
    return t;
  }
  std::vector<int32_t> ints(int max = 20) {
    return list([&] { return int32(); }, max);
  }
  parallel::RankStats rank_stats() {
    return {int32(), int64(), real(), real(), {int64(), int64(), int64(), real()}};
  }
  wire::ReplicaStats stats() {
    return {text(),  int32(),
            int32(), int32(),
            int32(), int64(),
            int64(), int64(),
            int64(), coin() ? 0.0 : 1.5e-3 * int32(),
            real(),  real(),
            int64(), list([&] { return rank_stats(); }, 3)};
  }
  StepPlan plan() {
    StepPlan p;
    p.added = list([&] { return NewSequence{int64(), sampling(), ints()}; }, 3);
    p.released = list([&] { return int64(); });
    p.copies = list([&] { return BlockCopy{int32(), int32()}; }, 3);
    p.chunks = list(
        [&] {
          return ChunkWork{int64(), int32(), ints(), ints(), list([&] { return int64(); }, 3)};
        },
        4);
    return p;
  }
  GenerateRequest generate_request() {
    GenerateRequest g;
    g.id = text();
    g.messages = list([&] { return ChatTurn{text(), text()}; }, 3);
    g.prompt_tokens = ints();
    g.prompt = text();
    g.sampling = sampling();
    g.priority = int32();
    g.timeout_ms = int64();
    return g;
  }
};

// Calls f(value) with one random value of every actor message type.
template <typename F>
void for_each_message_type(Random& r, F&& f) {
  f(wire::EngineRequest{r.text(), r.ints(50), r.sampling(), r.int32()});
  auto floats = [&] { return r.list([&] { return r.real(); }, 6); };
  f(wire::TokenDelta{r.text(), r.int32(), r.token(), static_cast<FinishReason>(r.integer(0, 2)),
                     r.real(), floats()});
  f(r.stats());
  f(wire::SubmitReply{r.coin(), r.text(), r.text()});
  f(wire::RequestFailure{r.text(), r.text(), r.text()});
  f(wire::WorkerStatus{r.text(), r.coin(), r.int32(), r.text()});
  f(wire::HealthReport{r.coin(), r.coin(), r.coin(), r.text(), r.int32(),
                       r.list([&] { return r.stats(); }, 3)});
  f(wire::JoinRequest{r.int32(), r.text(), r.text(), r.coin() ? 0.5 : 2.0, r.int32()});
  f(wire::JoinReply{r.coin(), r.text()});
  auto latency = [&] {
    return wire::LatencyCounts{r.list([&] { return double(r.real()); }, 4),
                               r.list([&] { return r.int64(); }, 5), r.real()};
  };
  auto served = [&] { return wire::ServedRequests{latency(), latency(), r.int64(), r.int64()}; };
  f(served());
  auto node = [&] {
    return wire::NodeStatus{
        r.text(),  r.coin(),  r.coin(),  r.int32(), r.int64(),
        r.int32(), r.real(),  r.real(),  r.int64(), r.int64(),
        r.int64(), r.int32(), r.int32(), r.coin(),  r.real(),
        r.int64(), r.real(),  r.int64(), served(),  r.list([&] { return r.rank_stats(); }, 3)};
  };
  f(node());
  auto autoscaler = [&] {
    auto event = [&] {
      return wire::ScaleEventRecord{r.real(), r.int32(), r.int32(), r.text(), r.text()};
    };
    return wire::AutoscalerStatus{r.text(),  r.coin(),  r.int32(), r.int32(), r.int32(),
                                  r.int32(), r.int32(), r.int32(), r.text(),  r.text(),
                                  r.coin(),  r.text(),  r.int64(), r.int64(), r.list(event, 3)};
  };
  f(autoscaler());
  f(wire::ClusterStatus{r.text(), r.list(node, 3), autoscaler()});
  f(r.plan());
  f(StepResult{r.list(
                   [&] {
                     return SequenceSample{r.int64(), r.token(), floats()};
                   },
                   5),
               r.list([&] { return r.rank_stats(); }, 3)});
  f(r.generate_request());
  f(GenerationChunk{r.text(), r.int32(), r.text(), r.list([&] { return r.token(); }, 3), r.text(),
                    r.int32(), r.real(), floats()});
  f(GenerationEnd{r.text(), r.int32(), r.int32(), r.text(), r.text()});
}

}  // namespace troupe::test
