#pragma once
// Byte-level BPE merges (GPT-2 style): a pre-tokenized word starts as one symbol per byte and
// the adjacent pair with the lowest merge rank is merged until none is left, as llama.cpp's
// llm_tokenizer_bpe_session does. Symbols and pairs are compared by interned id, never by text.
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/tokenizer/text_map.hpp"

namespace troupe {

class BpeModel {
 public:
  // `tokens` are byte-level spelled token texts (index = id; later duplicates win, as in
  // llama.cpp); `merges` are "left right" strings, rank = index (the first of duplicates wins).
  BpeModel(const std::vector<std::string>& tokens, const std::vector<std::string>& merges,
           bool ignore_merges);

  // Appends the ids of one word given as raw bytes (already normalised by the pre-tokenizer).
  void encode_word(std::string_view word, std::vector<int32_t>& out) const;

 private:
  struct Merge {
    int32_t rank;
    int32_t result;  // interned id of left+right
  };
  static uint64_t pair_key(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) |
           static_cast<uint32_t>(right);
  }
  // Emits one merged symbol: its token, or llama.cpp's fallback of single-character tokens.
  void emit_symbol(std::string_view bytes, int32_t id, std::vector<int32_t>& out) const;

  int32_t n_tokens_ = 0;
  bool ignore_merges_ = false;
  std::unordered_map<uint64_t, Merge> merges_;
  int32_t byte_symbol_[256];        // interned id of each byte's spelling, -1 if unknown
  int32_t single_char_token_[256];  // token whose text is exactly that one byte, -1 if none
  // Raw-byte text -> token id, for ignore_merges (only tokens spelled in the byte alphabet).
  TextMap<int32_t> raw_token_;
};

}  // namespace troupe
