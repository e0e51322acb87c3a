#include "engine/generate/generator.hpp"

#include <algorithm>
#include <chrono>

#include "engine/generate/stop_matcher.hpp"
#include "engine/tokenizer/incremental_decoder.hpp"

namespace troupe {
namespace {

constexpr int kPrefillChunk = 512;  // bounds activation memory for long prompts

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

Generator::Generator(Transformer& model, const Tokenizer& tokenizer, int block_size)
    : model_(model), tokenizer_(tokenizer), block_size_(block_size) {}

Result<GenerationOutput> Generator::generate(std::span<const int32_t> prompt,
                                             const SamplingParams& params,
                                             const TextCallback& on_text) {
  const ModelConfig& config = model_.config();
  if (auto s = validate(params, config.vocab_size); !s) return s.error();
  if (prompt.empty()) return make_error("the prompt is empty: give at least one token");
  const auto prompt_length = static_cast<int>(prompt.size());
  if (prompt_length >= config.context_length) {
    return make_error("the prompt has " + std::to_string(prompt_length) +
                      " tokens but the model's context is " +
                      std::to_string(config.context_length) + " tokens: shorten it");
  }
  for (int32_t id : prompt) {
    if (id < 0 || id >= config.vocab_size) {
      return make_error("prompt token id " + std::to_string(id) + " is outside the vocabulary");
    }
  }
  const int max_new = std::min(params.max_tokens, config.context_length - prompt_length);
  const int total = prompt_length + max_new;

  KvCache cache(config, (total + block_size_ - 1) / block_size_, block_size_);
  std::vector<int32_t> block_table(static_cast<size_t>(cache.blocks()));
  for (int32_t b = 0; b < cache.blocks(); ++b) block_table[static_cast<size_t>(b)] = b;

  GenerationOutput out;
  out.prompt_tokens = prompt_length;
  Sampler sampler(params);
  IncrementalDecoder decoder(tokenizer_);
  StopMatcher stops(params.stop);
  auto emit = [&](const std::string& text) {
    if (text.empty()) return;
    out.text += text;
    if (on_text) on_text(text);
  };

  const auto start = std::chrono::steady_clock::now();
  std::span<const float> logits;
  for (int done = 0; done < prompt_length; done += kPrefillChunk) {
    const int n = std::min(kPrefillChunk, prompt_length - done);
    const SequenceChunk chunk{prompt.subspan(static_cast<size_t>(done), static_cast<size_t>(n)),
                              done, block_table, ChunkLogits::last};
    logits = model_.forward(std::span<const SequenceChunk>(&chunk, 1), cache);
  }

  auto decode_start = start;
  out.finish_reason = "length";
  for (int i = 0; i < max_new; ++i) {
    const SampledToken sampled = sampler.sample(logits, prompt, out.token_ids);
    if (i == 0) {
      out.prompt_seconds = seconds_since(start);
      decode_start = std::chrono::steady_clock::now();
    }
    const int32_t token = sampled.token;
    const bool eog = !params.ignore_eos && tokenizer_.is_eog(token);
    const bool stop_id = std::find(params.stop_token_ids.begin(), params.stop_token_ids.end(),
                                   token) != params.stop_token_ids.end();
    out.token_ids.push_back(token);
    if (params.logprobs > 0) out.logprobs.push_back(sampled);
    if (eog || stop_id) {
      out.finish_reason = "stop";
      break;
    }
    emit(stops.feed(decoder.push(token)));
    if (stops.stopped()) {
      out.finish_reason = "stop";
      break;
    }
    if (i + 1 == max_new) break;
    const int32_t position = prompt_length + i;
    const SequenceChunk chunk{std::span<const int32_t>(&out.token_ids.back(), 1), position,
                              block_table, ChunkLogits::last};
    logits = model_.forward(std::span<const SequenceChunk>(&chunk, 1), cache);
  }
  if (!stops.stopped()) emit(stops.feed(decoder.flush()) + stops.flush());
  out.decode_seconds = seconds_since(decode_start);
  return out;
}

}  // namespace troupe
