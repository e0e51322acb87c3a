#pragma once
// Streaming detokenization: token ids go in one at a time and only complete UTF-8 comes out.
// A character split across tokens (byte-fallback tokens, or byte-level pieces that cut an
// emoji in two) is held back until its last byte arrives; bytes that can never become valid
// come out as U+FFFD. The concatenated output equals decode() of all ids, sanitized, except
// that llama.cpp's space cleaning (which looks ahead) and dropping a trailing EOS are not done.
#include <cstdint>
#include <string>

#include "engine/tokenizer/tokenizer.hpp"

namespace troupe {

class IncrementalDecoder {
 public:
  // `tokenizer` must outlive the decoder. With skip_special, control tokens add nothing and a
  // leading BOS is dropped, as in Tokenizer::decode.
  explicit IncrementalDecoder(const Tokenizer& tokenizer, bool skip_special = true);

  // The text this token completes (possibly empty).
  std::string push(int32_t id);
  // Appends the text this token completes to `out`; the allocation-free form of push().
  void push(int32_t id, std::string& out);
  // Whatever is held back, ill-formed bytes as U+FFFD; the decoder is then fresh again.
  std::string flush();
  // Forgets everything, as if newly made.
  void reset();

  // Bytes held back waiting for the rest of a character (at most 3).
  size_t pending_bytes() const { return pending_.size(); }

 private:
  const Tokenizer* tokenizer_;
  bool skip_special_;
  bool first_ = true;
  std::string pending_;
};

}  // namespace troupe
