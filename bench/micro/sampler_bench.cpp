// Sampling one token from a row of logits of the default model's vocabulary, as a decode step
// does once per sequence on the engine's thread: greedy, and temperature 1 over the whole
// distribution (the OpenAI API's default).

#include "bench/micro/common.hpp"
#include "engine/sample/sampler.hpp"

namespace troupe::micro {

namespace {

constexpr int64_t kVocabulary = 49152;

void bench_sample(benchmark::State& state, float temperature) {
  const std::vector<float> logits = random_floats(kVocabulary, -10.0f, 10.0f);
  SamplingParams params;
  params.temperature = temperature;
  params.seed = 1;
  Sampler sampler(params);
  for (auto _ : state) {
    benchmark::DoNotOptimize(sampler.sample(logits, {}, {}).token);
  }
  set_bandwidth_counter(state, static_cast<double>(kVocabulary * 4));
}

}  // namespace

void register_sampler_benchmarks() {
  benchmark::RegisterBenchmark("sample/49152/greedy", bench_sample, 0.0f)->UseRealTime();
  benchmark::RegisterBenchmark("sample/49152/temperature_1", bench_sample, 1.0f)->UseRealTime();
}

}  // namespace troupe::micro
