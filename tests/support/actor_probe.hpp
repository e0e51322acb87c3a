#pragma once
// What the actor tests send and how they collect what comes back: greedy requests over varied
// texts, a forwarding client the tests can kill, and a receive loop that records chunks, ends,
// statistics and health reports, failing when nothing arrives for two minutes.
#include <caf/all.hpp>
#include <map>
#include <string>
#include <vector>

#include "actors/messages.hpp"
#include "tests/support/engine_runner.hpp"

namespace troupe::test {

inline std::vector<TestRequest> greedy_requests(const Tokenizer& tok, int count) {
  static constexpr const char* kTexts[] = {
      "The quick brown fox jumps over the lazy dog. ",
      "def fibonacci(n):\n    if n < 2:\n        return n\n",
      "Paris is the capital of France, and Berlin is ",
      "SELECT name, price FROM products WHERE price > 100 ORDER BY ",
      "東京は日本の首都です。 ",
      "1, 1, 2, 3, 5, 8, 13, 21, ",
  };
  std::vector<TestRequest> out;
  for (int i = 0; i < count; ++i) {
    std::string text;
    for (int k = 0; k <= i % 4; ++k) text += kTexts[(i + k) % std::size(kTexts)];
    TestRequest r{"r" + std::to_string(i), tok.encode(text, true, false), {}, 0};
    r.params.temperature = 0;
    r.params.max_tokens = 4 + i % 9;
    r.params.ignore_eos = true;
    out.push_back(std::move(r));
  }
  return out;
}

inline GenerateRequest as_generate_request(const TestRequest& r) {
  GenerateRequest g;
  g.id = r.id;
  g.prompt_tokens = r.prompt;
  g.sampling = r.params;
  return g;
}

// Forwards what a request actor sends to `sink`; the tests kill it to play a client that left.
inline caf::behavior forwarder(caf::event_based_actor* self, caf::actor sink) {
  return {
      [self, sink](GenerationChunk& c) { self->send(sink, std::move(c)); },
      [self, sink](GenerationEnd& e) { self->send(sink, std::move(e)); },
  };
}

struct Received {
  std::map<std::string, std::vector<int32_t>> tokens;
  std::map<std::string, std::string> text;
  std::map<std::string, GenerationEnd> ends;
  std::vector<wire::ReplicaStats> stats;
  std::vector<HealthReport> health;
};

// Receives into `got` until `done()`, calling on_chunk for each chunk.
template <typename Done, typename OnChunk>
void receive_until(caf::scoped_actor& probe, Received& got, Done done, OnChunk on_chunk) {
  using namespace std::chrono_literals;
  probe->receive_while([&] { return !done(); })(
      [&](GenerationChunk& c) {
        for (const auto& t : c.tokens) got.tokens[c.request_id].push_back(t.token);
        got.text[c.request_id] += c.text;
        on_chunk(c);
      },
      [&](GenerationEnd& e) { got.ends[e.request_id] = e; },
      [&](wire::ReplicaStats& s) { got.stats.push_back(s); },
      [&](HealthReport& h) { got.health.push_back(h); },
      caf::after(120s) >> [&] { FAIL("no message for 120 s: something hangs"); });
}

template <typename Done>
void receive_until(caf::scoped_actor& probe, Received& got, Done done) {
  receive_until(probe, got, done, [](const GenerationChunk&) {});
}

}  // namespace troupe::test
