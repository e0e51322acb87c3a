#include <catch2/catch.hpp>
#include <cmath>
#include <map>

#include "engine/sample/sampler.hpp"

using namespace troupe;

namespace {

std::vector<float> logits_of(std::initializer_list<float> values) {
  return values;
}

}  // namespace

TEST_CASE("sampler: temperature 0 is argmax, and so is top_k 1") {
  const auto logits = logits_of({0.1f, 2.5f, -1.0f, 2.4f});
  SamplingParams greedy;
  greedy.temperature = 0;
  CHECK(Sampler(greedy).sample(logits, {}, {}).token == 1);
  SamplingParams top1;
  top1.top_k = 1;
  top1.seed = 5;
  for (int i = 0; i < 20; ++i) CHECK(Sampler(top1).sample(logits, {}, {}).token == 1);
}

TEST_CASE("sampler: the same seed gives the same tokens, and sampling follows the distribution") {
  const auto logits = logits_of({0.0f, std::log(3.0f), -100.0f});
  SamplingParams p;
  p.seed = 1234;
  Sampler a(p), b(p);
  std::map<int32_t, int> counts;
  for (int i = 0; i < 4000; ++i) {
    const auto ta = a.sample(logits, {}, {}).token;
    REQUIRE(ta == b.sample(logits, {}, {}).token);
    ++counts[ta];
  }
  CHECK(counts[2] == 0);
  CHECK(double(counts[1]) / 4000 == Approx(0.75).margin(0.03));
}

TEST_CASE("sampler: over a vocabulary of many runs, draws follow the tempered distribution") {
  // Three likely tokens in different runs of 64, the first one in a tie for greedy, and a long
  // tail whose mass is not negligible; at temperature 0.5 the probabilities are squared.
  std::vector<float> logits(5000, -3.0f);
  logits[70] = 2.0f;
  logits[130] = std::log(2.0f) + 2.0f;
  logits[4999] = 2.0f;
  SamplingParams greedy;
  greedy.temperature = 0;
  CHECK(Sampler(greedy).sample(logits, {}, {}).token == 130);
  logits[4999] = logits[130];
  CHECK(Sampler(greedy).sample(logits, {}, {}).token == 130);  // the first of equals

  SamplingParams p;
  p.temperature = 0.5f;
  p.seed = 99;
  Sampler s(p);
  double weight[3] = {std::exp(4.0), std::exp(2 * (std::log(2.0) + 2.0)), std::exp(4.0)};
  weight[2] = weight[1];
  const double tail = 4997 * std::exp(-6.0);
  const double total = weight[0] + weight[1] + weight[2] + tail;
  std::map<int32_t, int> counts;
  const int draws = 20000;
  for (int i = 0; i < draws; ++i) ++counts[s.sample(logits, {}, {}).token];
  CHECK(double(counts[70]) / draws == Approx(weight[0] / total).margin(0.015));
  CHECK(double(counts[130]) / draws == Approx(weight[1] / total).margin(0.015));
  CHECK(double(counts[4999]) / draws == Approx(weight[2] / total).margin(0.015));
  const int in_tail = draws - counts[70] - counts[130] - counts[4999];
  CHECK(double(in_tail) / draws == Approx(tail / total).margin(0.01));
}

TEST_CASE("sampler: top_p and min_p cut the tail") {
  const auto logits = logits_of({std::log(0.6f), std::log(0.3f), std::log(0.1f)});
  SamplingParams p;
  p.seed = 7;
  p.top_p = 0.8f;  // keeps 0.6 + 0.3
  Sampler s(p);
  for (int i = 0; i < 500; ++i) REQUIRE(s.sample(logits, {}, {}).token != 2);
  SamplingParams m;
  m.seed = 7;
  m.min_p = 0.6f;  // floor 0.36: only token 0
  Sampler sm(m);
  for (int i = 0; i < 200; ++i) REQUIRE(sm.sample(logits, {}, {}).token == 0);
}

TEST_CASE("sampler: logit bias and penalties move greedy choices") {
  const auto logits = logits_of({1.0f, 0.9f, 0.0f});
  SamplingParams p;
  p.temperature = 0;
  p.logit_bias = {{2, 5.0f}};
  CHECK(Sampler(p).sample(logits, {}, {}).token == 2);

  SamplingParams rep;
  rep.temperature = 0;
  rep.repetition_penalty = 2.0f;  // 1.0 -> 0.5 for a token already in the prompt
  const std::vector<int32_t> prompt{0};
  CHECK(Sampler(rep).sample(logits, prompt, {}).token == 1);

  SamplingParams freq;
  freq.temperature = 0;
  freq.frequency_penalty = 0.06f;  // token 0 seen twice: 1.0 - 0.12 < 0.9
  const std::vector<int32_t> output{0, 0};
  CHECK(Sampler(freq).sample(logits, {}, output).token == 1);
  SamplingParams presence;
  presence.temperature = 0;
  presence.presence_penalty = 0.05f;  // only once per token: 1.0 - 0.05 > 0.9
  CHECK(Sampler(presence).sample(logits, {}, output).token == 0);
}

TEST_CASE("sampler: log-probabilities are of the raw distribution, best first") {
  const auto logits = logits_of({0.0f, std::log(3.0f)});
  SamplingParams p;
  p.temperature = 0;
  p.logprobs = 2;
  const auto s = Sampler(p).sample(logits, {}, {});
  CHECK(s.logprob == Approx(std::log(0.75)));
  REQUIRE(s.top.size() == 2);
  CHECK(s.top[0].token == 1);
  CHECK(s.top[1].logprob == Approx(std::log(0.25)));
}

TEST_CASE("sampling params: every range is checked and named") {
  auto error_of = [](SamplingParams p) {
    auto s = validate(p, 100);
    return s.ok() ? std::string() : s.message();
  };
  SamplingParams ok;
  CHECK(error_of(ok).empty());
  SamplingParams t;
  t.temperature = -0.5f;
  CHECK_THAT(error_of(t), Catch::Contains("temperature"));
  SamplingParams tp;
  tp.top_p = 0;
  CHECK_THAT(error_of(tp), Catch::Contains("top_p"));
  SamplingParams mt;
  mt.max_tokens = 0;
  CHECK_THAT(error_of(mt), Catch::Contains("max_tokens"));
  SamplingParams lb;
  lb.logit_bias = {{100, 1.0f}};
  CHECK_THAT(error_of(lb), Catch::Contains("logit_bias"));
  SamplingParams nan;
  nan.temperature = std::nanf("");
  CHECK_THAT(error_of(nan), Catch::Contains("temperature"));
  SamplingParams stops;
  stops.stop.assign(kMostStopStrings + 1, "s");
  CHECK_THAT(error_of(stops), Catch::Contains("stop holds at most"));
  stops.stop = {std::string(kMostStopStringBytes + 1, 's')};
  CHECK_THAT(error_of(stops), Catch::Contains("stop strings are at most"));
  SamplingParams ids;
  ids.stop_token_ids.assign(kMostStopTokenIds + 1, 1);
  CHECK_THAT(error_of(ids), Catch::Contains("stop_token_ids"));
}
