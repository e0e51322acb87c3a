#pragma once
// Small hand-built tokenizer vocabularies for tests and fuzzers.
#include <string>
#include <utility>
#include <vector>

#include "engine/tokenizer/vocabulary.hpp"

namespace troupe::test {

// A SentencePiece vocabulary: <unk>, <s>, </s>, 256 byte tokens, then scored pieces.
inline Vocabulary spm_vocab(const std::vector<std::pair<std::string, float>>& pieces) {
  Vocabulary v;
  v.model = TokenizerModel::kSentencePiece;
  v.tokens = {"<unk>", "<s>", "</s>"};
  v.types = {TokenType::kUnknown, TokenType::kControl, TokenType::kControl};
  v.scores = {0, 0, 0};
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (int b = 0; b < 256; ++b) {
    v.tokens.push_back(std::string("<0x") + kHex[b >> 4] + kHex[b & 15] + ">");
    v.types.push_back(TokenType::kByte);
    v.scores.push_back(0);
  }
  for (const auto& [text, score] : pieces) {
    v.tokens.push_back(text);
    v.types.push_back(TokenType::kNormal);
    v.scores.push_back(score);
  }
  v.unk_id = 0;
  v.bos_id = 1;
  v.eos_id = 2;
  v.add_bos = true;
  v.add_space_prefix = true;
  apply_special_token_rules(v);
  return v;
}

}  // namespace troupe::test
