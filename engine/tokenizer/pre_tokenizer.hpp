#pragma once
// Pre-tokenization for byte-level BPE: splitting text into words before merges run, exactly as
// llama.cpp splits for each `tokenizer.ggml.pre` type. The splits are the tokenizers' regexes
// written out as hand-made scanners over code points (no regex engine on the request path).
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "engine/result.hpp"

namespace troupe {

enum class PreTokenizerKind {
  kDefault,  // llama.cpp's fallback: punctuation runs, GPT-2 words, number runs, digit triples
  kGpt2,     // 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)
  kSmollm,   // every \p{N} alone, then the GPT-2 rule (StarCoder, SmolLM, Command-R, ...)
  kLlama3,   // (?i:'s|...)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|...
  kQwen2,    // Llama-3's rule with single digits: \p{N} instead of \p{N}{1,3}
  kQwen35,   // Qwen2's rule with combining marks counted as letters: [\p{L}\p{M}]+
};

// How llama.cpp treats a `tokenizer.ggml.pre` value beyond its split rule.
struct PreTokenizerConfig {
  PreTokenizerKind kind = PreTokenizerKind::kDefault;
  bool clean_spaces = true;    // detokenize drops spaces before ?!., and in " 's" and the like
  bool ignore_merges = false;  // a word that is itself a token is emitted whole
  bool add_bos = false;        // default for tokenizer.ggml.add_bos_token when the key is absent
};

// The config for a `tokenizer.ggml.pre` value ("" means llama.cpp's "default"); an error that
// lists the supported values otherwise.
Result<PreTokenizerConfig> pre_tokenizer_config(std::string_view pre);

// The supported `tokenizer.ggml.pre` values, comma-separated, for error messages.
std::string_view supported_pre_tokenizers();

// Splits code points into words; returns the word lengths in code points, which sum to
// cpts.size(). Empty input gives no words.
std::vector<size_t> pre_tokenize(PreTokenizerKind kind, std::span<const uint32_t> cpts);

}  // namespace troupe
