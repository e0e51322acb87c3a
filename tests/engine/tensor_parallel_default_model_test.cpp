// Tensor parallelism on the real default model (9 query heads, 3 KV heads, 1,536 features: 3
// ranks split them all), ranks as threads: teacher-forced logits as close to the FP32 function
// of the same weights (llama.cpp on a dequantized copy: bench/reference/make_f32_fixtures.py)
// as the single pass's; greedy generations against the single pass's; batched and preempted
// runs equal to alone.
#include <catch2/catch.hpp>
#include <cmath>

#include <unistd.h>
#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/device/forward_pass_factory.hpp"
#include "engine/model/model.hpp"
#include "engine/serve/engine.hpp"
#include "tests/support/default_model.hpp"
#include "tests/support/default_model_requests.hpp"
#include "tests/support/engine_runner.hpp"
#include "tests/support/loaded_default_model.hpp"
#include "tests/support/teacher_forced.hpp"

using namespace troupe;
using test::argmax;
using test::log_softmax_at;
using test::reference_prompts;
using test::TestRequest;

namespace {

const Model& default_model() {
  return test::loaded_default_model();
}

// Every position's logits of `ids` in one prefill through a fresh pass.
std::vector<float> teacher_forced(const std::vector<int32_t>& ids, const DeviceOptions& device) {
  auto pass = make_forward_pass(default_model(), device, test::kv_for(ids.size()));
  REQUIRE(pass.ok());
  return test::teacher_forced(**pass, ids);
}

const DeviceOptions kSingle = on_cpu(0);
const DeviceOptions kThreeRanks = on_cpu(0, 3);

// How close a pass's teacher-forced logits are to the FP32 reference's (logits_f32.json).
struct Closeness {
  int positions = 0;
  int same_top1 = 0;
  double delta = 0;  // summed |delta log-prob| of the reference's top token
  double top1() const { return double(same_top1) / positions; }
  double mean_delta() const { return delta / positions; }
};

Closeness closeness_to_f32(const DeviceOptions& device) {
  const auto vocab = static_cast<size_t>(default_model().config.vocab_size);
  Closeness c;
  for (const auto& prompt : reference_prompts("logits_f32.json")) {
    const auto ids = prompt["ids"].get<std::vector<int32_t>>();
    const auto logits = teacher_forced(ids, device);
    const auto& expected = prompt["positions"];
    for (size_t p = 0; p < expected.size(); ++p) {
      const float* row = logits.data() + p * vocab;
      const auto top = expected[p]["top5"][0];
      ++c.positions;
      c.same_top1 += argmax(row, vocab) == top[0].get<size_t>();
      c.delta += std::abs(log_softmax_at(row, vocab, top[0].get<size_t>()) - top[1].get<double>());
    }
  }
  return c;
}

}  // namespace

TEST_CASE("default model, 3 ranks: as close to the FP32 function as one pass is") {
  const Closeness one = closeness_to_f32(kSingle);
  const Closeness three = closeness_to_f32(kThreeRanks);
  INFO(one.positions << " positions against llama.cpp on F32 weights: one pass top-1 " << one.top1()
                     << ", mean |delta log-prob| " << one.mean_delta() << "; 3 ranks top-1 "
                     << three.top1() << ", mean |delta log-prob| " << three.mean_delta());
  CHECK(one.positions >= 20 * 64);
  // The ranks add their partial sums in another order, which moves some 8-bit activations by a
  // step: a different rounding of the same function, not a worse one (measured against FP32: one
  // pass top-1 0.971, mean |delta| 0.0416; 3 ranks 0.970, 0.0415; on F32 weights 3 ranks and
  // one agree at every position, mean |delta| 0.0002).
  CHECK(three.top1() >= one.top1() - 0.02);
  CHECK(three.mean_delta() <= one.mean_delta() * 1.1);
  WARN("against FP32: one pass top-1 " << one.top1() << ", mean |delta log-prob| "
                                       << one.mean_delta() << "; 3 ranks top-1 " << three.top1()
                                       << ", mean |delta log-prob| " << three.mean_delta());
}

TEST_CASE("default model, 3 ranks: batched and preempted requests get the tokens they get alone") {
  const Model& model = default_model();
  const auto eog = [&](int32_t t) { return model.tokenizer.is_eog(t); };
  const auto reqs = test::default_model_requests(model.tokenizer, false);
  const auto alone =
      test::run_alone(model, test::default_model_engine_config(2048), reqs, eog, kThreeRanks);

  auto batched = Engine::create(model, test::default_model_engine_config(8192), eog, kThreeRanks);
  REQUIRE(batched.ok());
  CHECK(test::run_engine(**batched, reqs) == alone);

  EngineConfig tight = test::default_model_engine_config(160);
  tight.max_model_len = 128;
  tight.scheduler.max_num_batched_tokens = 48;
  auto preempting = Engine::create(model, tight, eog, kThreeRanks);
  REQUIRE(preempting.ok());
  CHECK(test::run_engine(**preempting, reqs) == alone);
  CHECK((*preempting)->stats().preemptions > 0);

  // Greedy generations next to one pass's: equal until a near-tie falls the other way. Not all
  // are: the 8-bit activations round some values the other way once the partial sums are added
  // in another order, as they do between one pass on two instruction sets (scalar kernels:
  // top-1 0.969 against FP32, AVX2 0.979, 3 ranks 0.966 and 0.972). Measured here: 18 of 32
  // equal, 236 of 341 tokens before the first difference (AVX2). A wrong split agrees on none.
  const auto single = test::run_alone(model, test::default_model_engine_config(2048), reqs, eog);
  const auto [equal, equal_tokens, tokens] = test::agreement(alone, single);
  INFO(equal << " of " << single.size() << " greedy generations equal to one pass's; "
             << equal_tokens << " of " << tokens << " tokens before the first difference");
  WARN(equal << " of " << single.size() << " greedy generations equal to one pass's");
  CHECK(equal * 3 >= static_cast<int>(single.size()));
  CHECK(equal_tokens * 2 >= tokens);
}

TEST_CASE("default model, 3 ranks as processes: the same bits as 3 ranks as threads") {
  DeviceOptions processes = kThreeRanks;
  processes.rank_processes = [](const parallel::RankLaunch& launch) -> Result<pid_t> {
    const pid_t pid = fork();  // the troupe binary starts itself instead
    if (pid < 0) return make_error("fork failed");
    if (pid == 0) _exit(parallel::run_rank_process(launch) ? 0 : 1);
    return pid;
  };
  int prompts = 0;
  for (const auto& prompt : reference_prompts("logits_f32.json")) {
    if (prompts++ == 3) break;
    const auto ids = prompt["ids"].get<std::vector<int32_t>>();
    CHECK(teacher_forced(ids, processes) == teacher_forced(ids, kThreeRanks));
  }
}
