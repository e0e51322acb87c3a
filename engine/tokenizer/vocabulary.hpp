#pragma once
// A model's vocabulary as its GGUF file describes it (the tokenizer.ggml.* keys), with
// llama.cpp's defaults for absent keys and its rules for which tokens end generation.
#include <cstdint>
#include <string>
#include <vector>

#include "engine/result.hpp"

namespace troupe {

namespace gguf {
class File;
}

enum class TokenizerModel {
  kBpe,            // tokenizer.ggml.model "gpt2": byte-level BPE
  kSentencePiece,  // tokenizer.ggml.model "llama": SentencePiece-style BPE with byte fallback
};

// GGUF's tokenizer.ggml.token_type values.
enum class TokenType : int32_t {
  kUndefined = 0,
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6,
};

struct Vocabulary {
  TokenizerModel model = TokenizerModel::kBpe;
  std::string pre;  // tokenizer.ggml.pre ("" when absent); selects the BPE word split

  std::vector<std::string> tokens;  // token texts, index = id
  std::vector<float> scores;        // per token (SentencePiece merge priority); may be empty
  std::vector<TokenType> types;     // per token
  std::vector<std::string> merges;  // BPE: "left right", rank = index

  // Special token ids, -1 where absent.
  int32_t bos_id = -1;
  int32_t eos_id = -1;
  int32_t unk_id = -1;
  int32_t pad_id = -1;
  int32_t eot_id = -1;  // end of turn (<|im_end|>, <|eot_id|>, ...)
  int32_t eom_id = -1;  // end of message (<|eom_id|>)
  int32_t fim_pre_id = -1;
  int32_t fim_suf_id = -1;
  int32_t fim_mid_id = -1;
  int32_t fim_pad_id = -1;
  int32_t fim_rep_id = -1;
  int32_t fim_sep_id = -1;

  bool add_bos = false;           // encode(add_special) prepends bos
  bool add_eos = false;           // encode(add_special) appends eos
  bool add_space_prefix = false;  // SentencePiece: a space before text; decode strips it back

  std::vector<int32_t> eog_ids;  // sorted: every token that ends generation
  // Special tokens that swallow the whitespace after them when split out of text (llama.cpp's
  // RSTRIP attribute, which it gives Phi-3's special tokens by model name); sorted.
  std::vector<int32_t> rstrip_ids;

  size_t size() const { return tokens.size(); }
  bool is_eog(int32_t id) const;
  bool is_rstrip(int32_t id) const;
  TokenType type(int32_t id) const {
    return static_cast<size_t>(id) < types.size() ? types[id] : TokenType::kNormal;
  }
};

// Reads the tokenizer.ggml.* keys. Errors name the missing or malformed key, or list the
// supported tokenizer models and pre-tokenizers.
Result<Vocabulary> load_vocabulary(const gguf::File& file);

// llama.cpp's loader rules that go by token text: finds eot/eom/FIM tokens not given by keys,
// builds eog_ids (eos, eot, eom, FIM pad/repo/sep and tokens such as <|im_end|>, <|eot_id|>,
// <|endoftext|>, <end_of_turn>) and makes those tokens control tokens. load_vocabulary calls
// it; call it on a hand-built vocabulary to get the same treatment.
void apply_special_token_rules(Vocabulary& vocab);

}  // namespace troupe
