// troupe bench offline: vLLM's offline throughput benchmark on the batching engine. N random
// prompts of I tokens go in at once; each generates exactly O tokens (end-of-sequence ignored);
// requests/s, output tokens/s and total tokens/s are measured over the whole run.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "cli/commands.hpp"
#include "cli/engine_options.hpp"
#include "cli/run_options.hpp"
#include "engine/serve/engine.hpp"
#include "kernels/cpu/thread_pool.hpp"

namespace troupe::cli {
namespace {

struct BenchShape {
  int num_prompts = 0, input_len = 0, output_len = 0, prefix_len = 0;
  uint64_t seed = 0;
};

Result<BenchShape> bench_shape(const Flags& flags) {
  BenchShape shape;
  struct Field {
    const char* name;
    int* out;
    int min;
  };
  for (const Field& f :
       {Field{"num-prompts", &shape.num_prompts, 1}, Field{"input-len", &shape.input_len, 1},
        Field{"output-len", &shape.output_len, 1}, Field{"prefix-len", &shape.prefix_len, 0}}) {
    if (f.min > 0 && !flags.has(f.name)) {
      return make_error(std::string("--") + f.name + " N is required (see troupe bench --help)");
    }
    auto v = flags.get_int(f.name, 0);
    if (!v) return v.error();
    if (*v < f.min || *v > 10'000'000) {
      return make_error(std::string("flag --") + f.name + " must be in [" + std::to_string(f.min) +
                        ", 10000000], got " + std::to_string(*v));
    }
    *f.out = static_cast<int>(*v);
  }
  auto seed = flags.get_int("seed", 0);
  if (!seed) return seed.error();
  shape.seed = static_cast<uint64_t>(*seed);
  return shape;
}

double seconds(EngineClock::duration d) {
  return std::chrono::duration<double>(d).count();
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int bench_command(const Args& args) {
  if (!args.empty() && args[0] == "serve")
    return bench_serve_command(Args(args.begin() + 1, args.end()));
  if (!args.empty() && args[0] == "latency")
    return bench_latency_command(Args(args.begin() + 1, args.end()));
  if (args.empty() || args[0] != "offline") {
    return input_error(
        "usage: troupe bench offline|latency|serve [flags] (see troupe bench <kind> --help)");
  }
  CommandSpec spec{
      "bench offline",
      "troupe bench offline [flags] --num-prompts N --input-len I --output-len O",
      "Runs N random prompts of I tokens at once through the batching engine, each generating\n"
      "exactly O tokens, and prints requests/s, output tokens/s and total tokens/s (like vLLM's\n"
      "benchmark_throughput). --max-num-seqs bounds how many run concurrently.",
      {model_flag(),
       {"num-prompts", "N", "number of requests"},
       {"input-len", "I", "prompt tokens per request, after any shared prefix"},
       {"output-len", "O", "generated tokens per request"},
       {"prefix-len", "P", "a random prefix of P tokens shared by every prompt (default 0)"},
       {"seed", "N", "seed of the random prompts and of sampling (default 0)"},
       {"json", "FILE", "also write the results as JSON to FILE"}}};
  for (auto& f : device_flags()) spec.flags.push_back(std::move(f));
  for (auto& f : engine_flags()) spec.flags.push_back(std::move(f));
  Flags flags;
  if (auto done = parse_flags(spec, Args(args.begin() + 1, args.end()), flags)) return *done;
  if (!flags.positional().empty()) {
    return input_error("unexpected argument '" + flags.positional()[0] + "'");
  }
  auto shape = bench_shape(flags);
  if (!shape) return input_error(shape.message());
  auto engine_config = engine_config_from_flags(flags);
  if (!engine_config) return input_error(engine_config.message());
  auto runtime = load_runtime(flags);
  if (!runtime) return input_error(runtime.message());
  const Model& model = (*runtime)->model;
  if (auto sized = size_kv_cache(flags, model, (*runtime)->device, *engine_config); !sized)
    return input_error(sized.message());
  auto engine = Engine::create(model, *engine_config, {}, (*runtime)->device);
  if (!engine) return input_error(engine.message());
  // Steady state, as vLLM's benchmark measures: not while the KV cache is being faulted in.
  (*engine)->wait_kv_faulted();

  std::mt19937_64 rng(shape->seed);
  std::uniform_int_distribution<int32_t> token(0, model.config.vocab_size - 1);
  std::vector<int32_t> prefix(static_cast<size_t>(shape->prefix_len));
  for (auto& t : prefix) t = token(rng);
  SamplingParams sampling;  // vLLM's benchmark: plain sampling, exactly O tokens
  sampling.temperature = 1.0f;
  sampling.top_p = 1.0f;
  sampling.max_tokens = shape->output_len;
  sampling.ignore_eos = true;

  const auto start = EngineClock::now();
  for (int i = 0; i < shape->num_prompts; ++i) {
    std::vector<int32_t> prompt = prefix;
    for (int k = 0; k < shape->input_len; ++k) prompt.push_back(token(rng));
    sampling.seed = shape->seed + static_cast<uint64_t>(i);
    if (auto s = (*engine)->add_request(std::to_string(i), std::move(prompt), sampling); !s) {
      return input_error(s.message());
    }
  }
  std::vector<double> ttft, prompt_phase;
  int64_t output_tokens = 0;
  while ((*engine)->has_unfinished()) {
    for (const SequenceUpdate& u : (*engine)->step().updates) {
      ++output_tokens;
      if (u.finish == FinishReason::none) continue;
      ttft.push_back(seconds(u.timings.first_token - u.timings.arrival));
      prompt_phase.push_back(seconds(u.timings.first_token - u.timings.first_scheduled));
    }
  }
  const double elapsed = seconds(EngineClock::now() - start);
  const EngineStats stats = (*engine)->stats();
  const int64_t prompt_tokens =
      int64_t{shape->num_prompts} * (shape->prefix_len + shape->input_len);
  const double requests_per_s = shape->num_prompts / elapsed;
  const double output_per_s = static_cast<double>(output_tokens) / elapsed;
  const double total_per_s = static_cast<double>(prompt_tokens + output_tokens) / elapsed;
  std::printf("Throughput: %.2f requests/s, %.1f total tokens/s, %.1f output tokens/s\n",
              requests_per_s, total_per_s, output_per_s);
  std::printf(
      "elapsed %.2f s, median TTFT %.3f s, %lld preemptions, prefix cache %lld/%lld tokens\n",
      elapsed, median(ttft), static_cast<long long>(stats.preemptions),
      static_cast<long long>(stats.prefix_cache_hits),
      static_cast<long long>(stats.prefix_cache_queries));

  if (auto path = flags.get("json")) {
    const EngineConfig& c = (*engine)->config();
    const nlohmann::json out = {
        {"num_prompts", shape->num_prompts},
        {"input_len", shape->input_len},
        {"output_len", shape->output_len},
        {"prefix_len", shape->prefix_len},
        {"threads", ThreadPool::size_for((*runtime)->device.threads)},
        {"max_num_seqs", c.scheduler.max_num_seqs},
        {"max_num_batched_tokens", c.scheduler.max_num_batched_tokens},
        {"enable_prefix_caching", c.enable_prefix_caching},
        {"elapsed_s", elapsed},
        {"requests_per_s", requests_per_s},
        {"output_tok_per_s", output_per_s},
        {"total_tok_per_s", total_per_s},
        {"ttft_s", ttft},
        {"prompt_phase_s", prompt_phase},
        {"preemptions", stats.preemptions},
        {"prefix_cache_hits", stats.prefix_cache_hits},
        {"prefix_cache_queries", stats.prefix_cache_queries},
    };
    std::ofstream file(*path);
    if (!(file << out.dump(2) << "\n")) return input_error("cannot write --json file " + *path);
  }
  return 0;
}

}  // namespace troupe::cli
