#pragma once
// SentencePiece-style merges (llama.cpp's "llama" vocabularies): the text (spaces already
// escaped to U+2581) starts as one symbol per UTF-8 character, and the adjacent pair whose
// concatenation is the token with the highest score merges first. Symbols that are no token
// are re-split along the merges that built them, down to byte-fallback tokens (<0xXX>).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/tokenizer/text_map.hpp"

namespace troupe {

class SpmModel {
 public:
  // `token_ids` maps every token text to its id; `scores` is indexed by id (may be empty).
  // `unk_id` stands in for a byte that has no byte token (-1: the byte is dropped).
  SpmModel(const TextMap<int32_t>& token_ids, const std::vector<float>& scores, int32_t unk_id);

  // Appends the ids for one escaped fragment of text.
  void encode(std::string_view text, std::vector<int32_t>& out) const;

 private:
  int32_t find(std::string_view text) const {
    auto it = token_ids_.find(text);
    return it == token_ids_.end() ? -1 : it->second;
  }
  float score(int32_t id) const {
    return static_cast<size_t>(id) < scores_.size() ? scores_[id] : 0.0f;
  }

  const TextMap<int32_t>& token_ids_;
  const std::vector<float>& scores_;
  int32_t byte_token_[256];  // <0xXX>, else the one-byte token, else unk_id (or -1)
};

}  // namespace troupe
