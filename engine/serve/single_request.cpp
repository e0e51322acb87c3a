#include "engine/serve/single_request.hpp"

#include <stdexcept>

#include "engine/kv/kv_cache.hpp"
#include "engine/serve/request_output.hpp"

namespace troupe {
namespace {

double seconds(EngineClock::duration d) {
  return std::chrono::duration<double>(d).count();
}

}  // namespace

EngineConfig single_request_config(const ModelConfig& model) {
  EngineConfig config;
  const int64_t blocks = (model.context_length + config.block_size - 1) / config.block_size;
  config.kv_cache_memory = blocks * KvCache::bytes_per_block(model, config.block_size);
  config.prefault_kv_cache = false;  // a whole context's blocks, few of them ever written
  config.scheduler.max_num_seqs = 1;
  config.scheduler.max_num_batched_tokens = 512;  // bounds activation memory for long prompts
  return config;
}

Result<SingleRequestOutput> run_single_request(Engine& engine, const Tokenizer& tokenizer,
                                               std::vector<int32_t> prompt,
                                               const SamplingParams& params,
                                               const TextCallback& on_text) {
  if (params.n != 1) return make_error("n must be 1 for a single request");
  const std::string id = "single";
  SingleRequestOutput out;
  out.prompt_tokens = static_cast<int>(prompt.size());
  if (auto s = engine.add_request(id, std::move(prompt), params); !s) return s.error();

  RequestOutput output(tokenizer, id, params, out.prompt_tokens);
  RequestTimings timings;
  EngineClock::time_point last_token;
  while (!output.finished()) {
    if (!engine.has_unfinished()) throw std::logic_error("run_single_request: the engine stopped");
    for (const SequenceUpdate& update : engine.step().updates) {
      out.token_ids.push_back(update.token.token);
      if (params.logprobs > 0) out.logprobs.push_back(update.token);
      timings = update.timings;
      last_token = update.time;
      const auto chunk = output.add(update.index, update.token, update.finish);
      if (!chunk) continue;
      out.text += chunk->text;
      if (on_text && !chunk->text.empty()) on_text(chunk->text);
      if (!chunk->finish_reason.empty()) out.finish_reason = chunk->finish_reason;
    }
  }
  if (output.engine_busy()) engine.abort(id);  // it ended on a stop string
  out.prompt_seconds = seconds(timings.first_token - timings.arrival);
  out.decode_seconds = seconds(last_token - timings.first_token);
  return out;
}

}  // namespace troupe
