#pragma once
// Text <-> token ids, matching llama.cpp's llama_tokenize and llama_detokenize token for token:
// special-token splitting, BOS/EOS rules, byte-level BPE with the model's pre-tokenizer, and
// SentencePiece-style merges with byte fallback. Immutable once created; copies share state
// and every method may be called from many threads at once.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/result.hpp"
#include "engine/tokenizer/vocabulary.hpp"

namespace troupe {

class Tokenizer {
 public:
  // Errors name what in the vocabulary is unusable (e.g. an unsupported pre-tokenizer).
  static Result<Tokenizer> create(Vocabulary vocab);

  // llama_tokenize(text, add_special, parse_special): add_special adds BOS/EOS where the
  // vocabulary asks for them; parse_special turns control-token texts such as "<|im_end|>"
  // into their ids (user-defined tokens are matched either way). Invalid UTF-8 never fails:
  // each bad byte is treated as U+FFFD, as llama.cpp does.
  std::vector<int32_t> encode(std::string_view text, bool add_special, bool parse_special) const;

  // llama_detokenize: the bytes the ids stand for (not necessarily valid UTF-8). With
  // skip_special, control and unknown tokens render as nothing and a leading BOS / trailing
  // EOS that add_special would have added is dropped; otherwise they render as their text.
  // Ids outside the vocabulary render as nothing.
  std::string decode(std::span<const int32_t> ids, bool skip_special = false) const;

  // The bytes one token contributes to decode(): empty for control/unknown tokens when
  // skipping specials. No leading-space stripping and no space cleaning (those look at
  // neighbours); IncrementalDecoder adds the former.
  std::string_view render(int32_t id, bool skip_special) const;

  // The token's text as stored in the vocabulary (e.g. "Ġhello", "▁hello", "<0x0A>").
  std::string_view piece(int32_t id) const;
  // The bytes the token stands for (e.g. " hello", "\n"); special tokens give their text.
  std::string token_bytes(int32_t id) const { return std::string(render(id, false)); }

  size_t vocab_size() const;
  bool is_eog(int32_t id) const;
  int32_t bos() const;
  int32_t eos() const;
  const Vocabulary& vocabulary() const;

 private:
  struct State;
  explicit Tokenizer(std::shared_ptr<const State> state) : state_(std::move(state)) {}
  std::shared_ptr<const State> state_;
};

}  // namespace troupe
