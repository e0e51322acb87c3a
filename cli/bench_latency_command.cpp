// troupe bench latency: one sequence at a time through the batching engine, measured as
// llama-bench measures llama.cpp, so the two compare: prompt processing is a random prompt of I
// tokens computed in one step (tokens/s up to its first sampled token), and decode is O tokens
// generated one step each from a one-token prompt (tokens/s over the O steps). Each round runs
// both; a warm-up round comes first and is not counted.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>

#include "cli/commands.hpp"
#include "cli/engine_options.hpp"
#include "cli/run_options.hpp"
#include "engine/model/model_weights.hpp"
#include "engine/serve/engine.hpp"
#include "kernels/cpu/cpu_features.hpp"
#include "kernels/cpu/handover_latency.hpp"
#include "kernels/cpu/stream_read.hpp"
#include "kernels/cpu/thread_pool.hpp"

namespace troupe::cli {
namespace {

struct LatencyShape {
  int input_len = 512, output_len = 128, rounds = 3, depth = 0;
  uint64_t seed = 0;
};

Result<LatencyShape> latency_shape(const Flags& flags) {
  LatencyShape shape;
  struct Field {
    const char* name;
    int* out;
  };
  for (const Field& f : {Field{"input-len", &shape.input_len},
                         Field{"output-len", &shape.output_len}, Field{"rounds", &shape.rounds}}) {
    auto v = ranged_int(flags, f.name, *f.out, 1, 1'000'000);
    if (!v) return v.error();
    *f.out = static_cast<int>(*v);
  }
  auto depth = ranged_int(flags, "depth", 0, 0, 1'000'000);
  if (!depth) return depth.error();
  shape.depth = static_cast<int>(*depth);
  auto seed = flags.get_int("seed", 0);
  if (!seed) return seed.error();
  shape.seed = static_cast<uint64_t>(*seed);
  return shape;
}

double seconds(EngineClock::duration d) {
  return std::chrono::duration<double>(d).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Bytes per second at which `reader` reads `memory` (`bytes` in all) alone, as a decode step
// reads it: the median of three passes.
double read_rate(ThreadPool& reader, std::span<const std::span<const std::byte>> memory,
                 size_t bytes) {
  std::vector<double> passes;
  for (int pass = 0; pass < 3; ++pass) {
    passes.push_back(
        static_cast<double>(bytes) /
        stream_read_seconds(reader, memory, static_cast<size_t>(stream_prefetch_bytes())));
  }
  return median(passes);
}

// The share of rank `rank`'s step time spent in its collectives between two collections of the
// group's totals (0 without a group).
double collective_share(const std::vector<parallel::RankStats>& before,
                        const std::vector<parallel::RankStats>& after, size_t rank) {
  if (rank >= before.size() || rank >= after.size()) return 0;
  const double steps = after[rank].step_seconds - before[rank].step_seconds;
  const double collectives =
      after[rank].step_collective_seconds - before[rank].step_collective_seconds;
  return steps > 0 ? collectives / steps : 0;
}

// The mean share over the ranks.
double mean_collective_share(const std::vector<parallel::RankStats>& before,
                             const std::vector<parallel::RankStats>& after) {
  double sum = 0;
  for (size_t r = 0; r < after.size(); ++r) sum += collective_share(before, after, r);
  return after.empty() ? 0 : sum / static_cast<double>(after.size());
}

struct AloneTimings {
  RequestTimings request;
  EngineClock::time_point last_token;
  int64_t computed_tokens = 0;  // over its steps: the prompt's and each fed-back token
};

// Runs one greedy request alone and returns its timings when it finishes.
Result<AloneTimings> run_alone(Engine& engine, std::vector<int32_t> prompt, int max_tokens) {
  SamplingParams greedy;
  greedy.temperature = 0;
  greedy.max_tokens = max_tokens;
  greedy.ignore_eos = true;
  if (auto s = engine.add_request("latency", std::move(prompt), greedy); !s) return s.error();
  AloneTimings timings;
  int64_t computed = 0;
  while (engine.has_unfinished()) {
    const StepOutput step = engine.step();
    computed += step.scheduled_tokens;
    for (const SequenceUpdate& u : step.updates) {
      if (u.finish != FinishReason::none) timings = {u.timings, u.time};
    }
  }
  timings.computed_tokens = computed;
  return timings;
}

}  // namespace

int bench_latency_command(const Args& args) {
  CommandSpec spec{
      "bench latency",
      "troupe bench latency [flags] [--input-len I] [--output-len O] [--rounds R]",
      "Measures one sequence at a time through the batching engine, as llama-bench measures\n"
      "llama.cpp: prompt processing of a random I-token prompt in one step, and decoding of O\n"
      "tokens one step each (after a prompt of D tokens with --depth D). Prints the medians of\n"
      "R rounds in tokens/s, after a warm-up round; on the CPU also how fast the same weight\n"
      "memory reads alone after each decode round, the roofline of that minute, and decode's\n"
      "share of it, and a cache line's round trip between two of the threads (where the host\n"
      "has put them: each hand-over pays it).",
      {model_flag(),
       {"input-len", "I", "prompt tokens of the prompt-processing test (default 512)"},
       {"output-len", "O", "tokens of the decode test (default 128)"},
       {"depth", "D",
        "tokens in the KV cache before the decode test, as llama-bench's -d (default 0)"},
       {"rounds", "R", "measured rounds (default 3)"},
       {"seed", "N", "seed of the random prompts (default 0)"},
       {"json", "FILE", "also write the results as JSON to FILE"}}};
  for (auto& f : device_flags()) spec.flags.push_back(std::move(f));
  for (auto& f : engine_flags()) spec.flags.push_back(std::move(f));
  Flags flags;
  if (auto done = parse_flags(spec, args, flags)) return *done;
  if (!flags.positional().empty()) {
    return input_error("unexpected argument '" + flags.positional()[0] + "'");
  }
  auto shape = latency_shape(flags);
  if (!shape) return input_error(shape.message());
  auto engine_config = engine_config_from_flags(flags);
  if (!engine_config) return input_error(engine_config.message());
  if (engine_config->scheduler.max_num_batched_tokens < std::max(shape->input_len, shape->depth)) {
    // The prompt must be one step, as llama-bench's is one batch.
    engine_config->scheduler.max_num_batched_tokens = std::max(shape->input_len, shape->depth);
  }
  auto runtime = load_runtime(flags);
  if (!runtime) return input_error(runtime.message());
  const Model& model = (*runtime)->model;
  if (shape->input_len + 1 > model.config.context_length ||
      shape->depth + shape->output_len + 1 > model.config.context_length) {
    return input_error(
        "--input-len, and --depth with --output-len, must fit the model's context of " +
        std::to_string(model.config.context_length) + " tokens");
  }
  if (auto sized = size_kv_cache(flags, model, (*runtime)->device, *engine_config); !sized)
    return input_error(sized.message());
  auto engine = Engine::create(model, *engine_config, {}, (*runtime)->device);
  if (!engine) return input_error(engine.message());
  // Steady state, as llama-bench measures: not while the KV cache is still being faulted in.
  (*engine)->wait_kv_faulted();

  std::mt19937_64 rng(shape->seed);
  std::uniform_int_distribution<int32_t> token(0, model.config.vocab_size - 1);
  auto random_prompt = [&](int length) {
    std::vector<int32_t> prompt(static_cast<size_t>(length));
    for (auto& t : prompt) t = token(rng);  // fresh tokens: nothing comes from the prefix cache
    return prompt;
  };
  // The roofline of this minute: the same weight memory read alone, after each decode round,
  // by as many threads (CPU, one rank: what this process's own weights are).
  const DeviceOptions& device = (*runtime)->device;
  const auto weight_memory = weight_memory_per_step(model.weights);
  size_t read_bytes = 0;
  for (const auto& range : weight_memory) read_bytes += range.size();
  std::unique_ptr<ThreadPool> reader;
  if (device.device == Device::cpu && device.tensor_parallel_size == 1)
    reader = std::make_unique<ThreadPool>(device.threads);
  std::vector<double> read_rates, decode_of_read, handover_ns;
  std::vector<double> prompt_rates, decode_rates, prompt_shares, decode_shares;
  int64_t decode_computed_tokens = 0;
  // Without depth, a one-token prompt's step is the first of the decode test's O (llama-bench's
  // tg test); with it, the O steps after the D-token prompt's, timed from its first token.
  const bool deep = shape->depth > 0;
  const int decode_prompt = deep ? shape->depth : 1;
  const int decode_tokens = shape->output_len + (deep ? 1 : 0);
  for (int round = 0; round <= shape->rounds; ++round) {
    const auto start = (*engine)->rank_stats();
    auto prompt = run_alone(**engine, random_prompt(shape->input_len), 1);
    if (!prompt) return input_error(prompt.message());
    const auto prompted = (*engine)->rank_stats();
    auto decode = run_alone(**engine, random_prompt(decode_prompt), decode_tokens);
    if (!decode) return input_error(decode.message());
    decode_computed_tokens = decode->computed_tokens;
    const auto decoded = (*engine)->rank_stats();
    if (round == 0) continue;  // warm-up
    prompt_shares.push_back(mean_collective_share(start, prompted));
    decode_shares.push_back(mean_collective_share(prompted, decoded));
    prompt_rates.push_back(shape->input_len /
                           seconds(prompt->request.first_token - prompt->request.first_scheduled));
    decode_rates.push_back(shape->output_len /
                           seconds(decode->last_token - (deep ? decode->request.first_token
                                                              : decode->request.first_scheduled)));
    if (reader) {
      read_rates.push_back(read_rate(*reader, weight_memory, read_bytes));
      decode_of_read.push_back(decode_rates.back() * read_bytes / read_rates.back());
      // Where the host has put the threads: a decode step's hand-overs pay this round trip.
      if (reader->size() > 1) handover_ns.push_back(handover_round_trip_ns(*reader));
    }
  }
  const double prompt_rate = median(prompt_rates), decode_rate = median(decode_rates);
  const int64_t step_bytes = weight_bytes_per_step(model.weights);
  std::printf("prompt processing (%d tokens): %.1f tokens/s\n", shape->input_len, prompt_rate);
  std::printf(
      "decode (%d tokens%s): %.1f tokens/s, reading %.1f MB of weights per token (%.1f GB/s)\n",
      shape->output_len, deep ? (" after " + std::to_string(shape->depth)).c_str() : "",
      decode_rate, step_bytes / 1e6, decode_rate * step_bytes / 1e9);
  if (reader) {
    std::printf(
        "the same %.1f MB of weight memory read alone, after each decode round: %.1f GB/s "
        "(%.0f tokens/s); decode at %.0f%% of it\n",
        read_bytes / 1e6, median(read_rates) / 1e9, median(read_rates) / read_bytes,
        100 * median(decode_of_read));
  }
  if (!handover_ns.empty()) {
    std::printf(
        "a cache line's round trip between two of its threads, after each decode round: "
        "%.0f ns\n",
        median(handover_ns));
  }
  const int ranks = (*runtime)->device.tensor_parallel_size;
  const double prompt_share = median(prompt_shares), decode_share = median(decode_shares);
  if (ranks > 1) {
    std::printf(
        "tensor parallel (%d ranks): collectives take %.1f%% of a prompt step and %.1f%% "
        "of a decode step (mean over the ranks)\n",
        ranks, 100 * prompt_share, 100 * decode_share);
  }

  if (auto path = flags.get("json")) {
    const nlohmann::json out = {
        {"input_len", shape->input_len},
        {"output_len", shape->output_len},
        {"depth", shape->depth},
        {"decode_test_computed_tokens",
         decode_computed_tokens},  // depth + output_len, or output_len
        {"rounds", shape->rounds},
        {"threads", ThreadPool::size_for((*runtime)->device.threads)},
        {"prompt_tok_per_s", prompt_rate},
        {"decode_tok_per_s", decode_rate},
        {"prompt_tok_per_s_rounds", prompt_rates},
        {"decode_tok_per_s_rounds", decode_rates},
        {"weight_bytes_per_token", step_bytes},
        {"weight_memory_read_bytes", read_bytes},
        {"weight_memory_read_bytes_per_s_rounds", read_rates},
        {"decode_of_weight_memory_read",
         reader ? nlohmann::json(median(decode_of_read)) : nlohmann::json(nullptr)},
        {"handover_round_trip_ns_rounds", handover_ns},
        {"tensor_parallel_size", ranks},
        {"prompt_collective_share", prompt_share},
        {"decode_collective_share", decode_share},
    };
    std::ofstream file(*path);
    if (!(file << out.dump(2) << "\n")) return input_error("cannot write --json file " + *path);
  }
  return 0;
}

}  // namespace troupe::cli
