#include "engine/sample/sampling_params.hpp"

#include "engine/grammar/compiled_grammar.hpp"
#include "engine/grammar/grammar_words.hpp"

#include <cmath>

namespace troupe {

Status validate(const SamplingParams& p, int vocab_size) {
  auto bad = [](const std::string& what) { return Status(make_error(what)); };
  if (!(p.temperature >= 0) || !std::isfinite(p.temperature)) {
    return bad("temperature must be a number >= 0, got " + std::to_string(p.temperature));
  }
  if (!(p.top_p > 0 && p.top_p <= 1)) {
    return bad("top_p must be in (0, 1], got " + std::to_string(p.top_p));
  }
  if (p.top_k < -1)
    return bad("top_k must be -1, 0 (off) or positive, got " + std::to_string(p.top_k));
  if (!(p.min_p >= 0 && p.min_p <= 1)) {
    return bad("min_p must be in [0, 1], got " + std::to_string(p.min_p));
  }
  if (!(p.repetition_penalty > 0) || !std::isfinite(p.repetition_penalty)) {
    return bad("repetition_penalty must be > 0, got " + std::to_string(p.repetition_penalty));
  }
  if (!(p.presence_penalty >= -2 && p.presence_penalty <= 2)) {
    return bad("presence_penalty must be in [-2, 2], got " + std::to_string(p.presence_penalty));
  }
  if (!(p.frequency_penalty >= -2 && p.frequency_penalty <= 2)) {
    return bad("frequency_penalty must be in [-2, 2], got " + std::to_string(p.frequency_penalty));
  }
  if (p.n < 1 || p.n > 128) return bad("n must be in [1, 128], got " + std::to_string(p.n));
  if (p.max_tokens < 1) return bad("max_tokens must be >= 1, got " + std::to_string(p.max_tokens));
  if (p.logprobs < 0 || p.logprobs > 20) {
    return bad("logprobs must be in [0, 20], got " + std::to_string(p.logprobs));
  }
  for (const auto& [token, bias] : p.logit_bias) {
    if (token < 0 || token >= vocab_size) {
      return bad("logit_bias names token " + std::to_string(token) +
                 ", outside the vocabulary [0, " + std::to_string(vocab_size) + ")");
    }
    if (!(bias >= -100 && bias <= 100)) return bad("logit_bias values must be in [-100, 100]");
  }
  if (!p.grammar.empty()) {
    auto g = grammar::from_words(p.grammar);
    if (!g) return bad(g.message());
    if (auto c = grammar::CompiledGrammar::compile(*g); !c) return bad(c.message());
  }
  if (p.stop_token_ids.size() > kMostStopTokenIds) {
    return bad("stop_token_ids holds at most " + std::to_string(kMostStopTokenIds) + " ids");
  }
  for (int32_t token : p.stop_token_ids) {
    if (token < 0 || token >= vocab_size) {
      return bad("stop_token_ids names token " + std::to_string(token) +
                 ", outside the vocabulary");
    }
  }
  if (auto problem = stop_list_problem(p.stop)) return bad(*problem);
  if (p.pooling != Pooling::none && (p.n != 1 || !p.grammar.empty())) {
    return bad("an embedding request has one sample and no grammar");
  }
  return Ok{};
}

std::optional<std::string> stop_list_problem(const std::vector<std::string>& stop) {
  if (stop.size() > kMostStopStrings)
    return "stop holds at most " + std::to_string(kMostStopStrings) + " strings";
  for (const std::string& s : stop) {
    if (s.empty()) return "stop strings must not be empty";
    if (s.size() > kMostStopStringBytes)
      return "stop strings are at most " + std::to_string(kMostStopStringBytes) + " bytes";
  }
  return std::nullopt;
}

}  // namespace troupe
