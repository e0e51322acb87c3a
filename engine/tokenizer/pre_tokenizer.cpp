#include "engine/tokenizer/pre_tokenizer.hpp"

#include <string>

#include "engine/tokenizer/unicode.hpp"

namespace troupe {
namespace {

using unicode::kLetter;
using unicode::kMark;
using unicode::kNumber;
using unicode::kPunctuation;
using unicode::kWhitespace;

struct PreEntry {
  std::string_view name;
  PreTokenizerConfig config;
};

constexpr PreTokenizerKind kDef = PreTokenizerKind::kDefault;
constexpr PreTokenizerKind kG2 = PreTokenizerKind::kGpt2;
constexpr PreTokenizerKind kSm = PreTokenizerKind::kSmollm;
constexpr PreTokenizerKind kL3 = PreTokenizerKind::kLlama3;
constexpr PreTokenizerKind kQw = PreTokenizerKind::kQwen2;
constexpr PreTokenizerKind kQ35 = PreTokenizerKind::kQwen35;

// The flags per name follow llama_vocab::impl::load.
constexpr PreEntry kPreEntries[] = {
    {"default", {kDef, true, false, false}},
    {"llama3", {kL3, true, true, true}},
    {"llama-v3", {kL3, true, true, true}},
    {"llama-bpe", {kL3, true, true, true}},
    {"falcon3", {kL3, true, true, true}},
    {"falcon-h1", {kL3, true, true, true}},
    {"pixtral", {kL3, true, true, true}},
    {"midm-2.0", {kL3, true, true, true}},
    {"lfm2", {kL3, true, true, true}},
    {"jina-v5-nano", {kL3, true, true, true}},
    {"dbrx", {kL3, true, false, false}},
    {"smaug-bpe", {kL3, true, false, false}},
    {"gpt-2", {kG2, true, false, false}},
    {"phi-2", {kG2, true, false, false}},
    {"gigachat", {kG2, true, false, false}},
    {"a.x-4.0", {kG2, true, false, false}},
    {"mellum", {kG2, true, false, false}},
    {"mpt", {kG2, true, false, false}},
    {"olmo", {kG2, true, false, false}},
    {"jais", {kG2, true, false, false}},
    {"exaone4", {kG2, true, false, false}},
    {"trillion", {kG2, false, false, false}},
    {"granite-docling", {kG2, false, false, false}},
    {"smollm", {kSm, false, false, false}},
    {"command-r", {kSm, false, false, false}},
    {"starcoder", {kSm, true, false, false}},
    {"refact", {kSm, true, false, false}},
    {"codeshell", {kSm, true, false, false}},
    {"exaone", {kSm, true, false, false}},
    {"minerva-7b", {kSm, true, false, false}},
    {"mellum2", {kSm, true, false, false}},
    {"qwen2", {kQw, false, false, false}},
    {"deepseek-r1-qwen", {kQw, false, false, false}},
    {"kormo", {kQw, false, false, false}},
    {"f2llmv2", {kQw, false, false, false}},
    {"hunyuan", {kQw, false, false, false}},
    {"solar-open", {kQw, false, false, false}},
    {"stablelm2", {kQw, true, false, false}},
    {"megrez", {kQw, true, false, false}},
    {"qwen35", {kQ35, false, false, false}},
};

constexpr uint32_t kOutOfRange = 0xFFFFFFFF;

// One piece of text being split: code points and their flags, with llama.cpp's convention that
// looking past the piece sees kOutOfRange and no flags at all.
struct Piece {
  const uint32_t* cpts;
  const uint16_t* flags;
  size_t begin;
  size_t end;

  uint32_t cpt(size_t pos) const { return pos >= begin && pos < end ? cpts[pos] : kOutOfRange; }
  uint16_t flag(size_t pos) const { return pos >= begin && pos < end ? flags[pos] : 0; }
};

// Appends word lengths; `cut(pos)` closes the word that ends at pos (empty words are dropped).
class Words {
 public:
  Words(std::vector<size_t>& out, size_t begin) : out_(out), prev_(begin) {}
  void cut(size_t pos) {
    if (pos > prev_) out_.push_back(pos - prev_);
    prev_ = pos;
  }

 private:
  std::vector<size_t>& out_;
  size_t prev_;
};

bool is_lower_contraction_1(uint32_t c) {
  return c == 's' || c == 't' || c == 'm' || c == 'd';
}
bool is_contraction_2(uint32_t c1, uint32_t c2) {
  return (c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l');
}
// Only ASCII letters lower-case to the contraction letters, so ASCII folding is exact here.
uint32_t ascii_lower(uint32_t c) {
  return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

// Length of a contraction ('s, 're, ...) starting at pos, or 0.
size_t contraction_at(const Piece& p, size_t pos, bool fold_case) {
  if (p.cpt(pos) != '\'' || pos + 1 >= p.end) return 0;
  const auto fold = [&](uint32_t c) { return fold_case ? ascii_lower(c) : c; };
  const uint32_t c1 = fold(p.cpt(pos + 1));
  if (is_lower_contraction_1(c1)) return 2;
  if (pos + 2 < p.end && is_contraction_2(c1, fold(p.cpt(pos + 2)))) return 3;
  return 0;
}

constexpr uint16_t kWordClasses = kWhitespace | kLetter | kNumber;  // GPT-2's \s, \p{L}, \p{N}

// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
void split_gpt2(const Piece& p, std::vector<size_t>& out) {
  Words words(out, p.begin);
  size_t pos = p.begin;
  while (pos < p.end) {
    const uint32_t c = p.cpt(pos);
    if (const size_t n = contraction_at(p, pos, /*fold_case=*/false)) {
      pos += n;
      words.cut(pos);
      continue;
    }
    // A leading space joins the word after it.
    const uint16_t f2 = c == ' ' ? p.flag(pos + 1) : p.flag(pos);
    const auto take_run = [&](auto in_run) {
      pos += c == ' ';
      while (in_run(p.flag(pos))) ++pos;
      words.cut(pos);
    };
    if (f2 & kLetter) {
      take_run([](uint16_t f) { return (f & kLetter) != 0; });
      continue;
    }
    if (f2 & kNumber) {
      take_run([](uint16_t f) { return (f & kNumber) != 0; });
      continue;
    }
    if (!(f2 & kWordClasses) && f2 != 0) {
      take_run([](uint16_t f) { return !(f & kWordClasses) && f != 0; });
      continue;
    }
    size_t spaces = 0;
    while (p.flag(pos + spaces) & kWhitespace) ++spaces;
    if (spaces > 1 && p.cpt(pos + spaces) != kOutOfRange) {
      pos += spaces - 1;  // \s+(?!\S): leave the last space to the word that follows
    } else if (spaces > 0) {
      pos += spaces;
    } else {
      pos += 1;
    }
    words.cut(pos);
  }
}

// Llama-3 (max_digits 3), Qwen2 (max_digits 1) and Qwen3.5 (max_digits 1, and letters are
// [\p{L}\p{M}]):
// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,N}| ?[^\s\p{L}\p{N}]+[\r\n]*|
// \s*[\r\n]+|\s+(?!\S)|\s+
void split_llama3(const Piece& p, size_t max_digits, uint16_t letters, std::vector<size_t>& out) {
  Words words(out, p.begin);
  const uint16_t word_classes = kWhitespace | letters | kNumber;
  size_t pos = p.begin;
  while (pos < p.end) {
    const uint32_t c = p.cpt(pos);
    const uint16_t f = p.flag(pos);
    if (const size_t n = contraction_at(p, pos, /*fold_case=*/true)) {
      pos += n;
      words.cut(pos);
      continue;
    }
    // [^\r\n\p{L}\p{N}]?\p{L}+
    if (!(c == '\r' || c == '\n' || (f & kNumber)) &&
        ((f & letters) || (p.flag(pos + 1) & letters))) {
      ++pos;
      while (p.flag(pos) & letters) ++pos;
      words.cut(pos);
      continue;
    }
    // \p{N}{1,max_digits}
    if (f & kNumber) {
      size_t start = pos;
      while (p.flag(pos) & kNumber) {
        if (++pos - start >= max_digits) {
          words.cut(pos);
          start = pos;
        }
      }
      words.cut(pos);
      continue;
    }
    // ' ?[^\s\p{L}\p{N}]+[\r\n]*'; like llama.cpp, a lone space at the piece's end lands here.
    const uint16_t f2 = c == ' ' ? p.flag(pos + 1) : f;
    if (!(f2 & word_classes) && f != 0) {
      pos += c == ' ';
      while (!(p.flag(pos) & word_classes) && p.flag(pos) != 0) ++pos;
      while (p.cpt(pos) == '\r' || p.cpt(pos) == '\n') ++pos;
      words.cut(pos);
      continue;
    }
    size_t spaces = 0;
    size_t after_last_newline = 0;
    while (p.flag(pos + spaces) & kWhitespace) {
      const uint32_t s = p.cpt(pos + spaces);
      if (s == '\r' || s == '\n') after_last_newline = pos + spaces + 1;
      ++spaces;
    }
    if (after_last_newline > 0) {
      pos = after_last_newline;  // \s*[\r\n]+
    } else if (spaces > 1 && p.cpt(pos + spaces) != kOutOfRange) {
      pos += spaces - 1;  // \s+(?!\S)
    } else if (spaces > 0) {
      pos += spaces;
    } else {
      pos += 1;
    }
    words.cut(pos);
  }
}

// The regexes llama.cpp runs through std::regex match one code point class; each match is a
// word and so is each gap between matches.
enum class Isolate { kEach, kRuns };

template <typename Pred>
void split_matches(const Piece& p, Isolate mode, Pred pred, std::vector<size_t>& out) {
  Words words(out, p.begin);
  size_t pos = p.begin;
  while (pos < p.end) {
    if (!pred(p, pos)) {
      ++pos;
      continue;
    }
    words.cut(pos);
    ++pos;
    if (mode == Isolate::kRuns) {
      while (pos < p.end && pred(p, pos)) ++pos;
    }
    words.cut(pos);
  }
  words.cut(p.end);
}

bool is_number(const Piece& p, size_t pos) {
  return (p.flags[pos] & kNumber) != 0;
}

// [\p{P}\$\+<=>\^~\|]: in ASCII, llama.cpp's \p{P} is every punctuation or symbol but $+<=>^`|~,
// and the class adds all of those back except the backtick.
bool is_default_punctuation(const Piece& p, size_t pos) {
  const uint32_t c = p.cpts[pos];
  if (c < 0x80) return c > 0x20 && c < 0x7F && c != '`' && !(p.flags[pos] & (kLetter | kNumber));
  return (p.flags[pos] & kPunctuation) != 0;
}

// [0-9][0-9][0-9], leftmost and non-overlapping.
void split_digit_triples(const Piece& p, std::vector<size_t>& out) {
  Words words(out, p.begin);
  const auto digit = [&](size_t i) { return p.cpts[i] >= '0' && p.cpts[i] <= '9'; };
  size_t pos = p.begin;
  while (pos + 3 <= p.end) {
    if (digit(pos) && digit(pos + 1) && digit(pos + 2)) {
      words.cut(pos);
      pos += 3;
      words.cut(pos);
    } else {
      ++pos;
    }
  }
  words.cut(p.end);
}

// Runs `split` over every current word, replacing the word list with the finer one.
template <typename Split>
void refine(std::vector<size_t>& words, std::span<const uint32_t> cpts,
            const std::vector<uint16_t>& flags, Split split) {
  std::vector<size_t> finer;
  finer.reserve(words.size() * 2);
  size_t start = 0;
  for (size_t len : words) {
    split(Piece{cpts.data(), flags.data(), start, start + len}, finer);
    start += len;
  }
  words.swap(finer);
}

}  // namespace

Result<PreTokenizerConfig> pre_tokenizer_config(std::string_view pre) {
  if (pre.empty()) pre = "default";
  for (const PreEntry& e : kPreEntries) {
    if (e.name == pre) return e.config;
  }
  return make_error("unsupported tokenizer.ggml.pre '" + std::string(pre) +
                    "'; supported: " + std::string(supported_pre_tokenizers()));
}

std::string_view supported_pre_tokenizers() {
  static const std::string list = [] {
    std::string s;
    for (const PreEntry& e : kPreEntries) {
      if (!s.empty()) s += ", ";
      s += e.name;
    }
    return s;
  }();
  return list;
}

std::vector<size_t> pre_tokenize(PreTokenizerKind kind, std::span<const uint32_t> cpts) {
  std::vector<size_t> words;
  if (cpts.empty()) return words;
  std::vector<uint16_t> flags(cpts.size());
  for (size_t i = 0; i < cpts.size(); ++i) flags[i] = unicode::flags(cpts[i]);
  words.push_back(cpts.size());

  const auto gpt2 = [](const Piece& p, std::vector<size_t>& out) { split_gpt2(p, out); };
  switch (kind) {
    case PreTokenizerKind::kGpt2:
      refine(words, cpts, flags, gpt2);
      break;
    case PreTokenizerKind::kSmollm:
      refine(words, cpts, flags, [](const Piece& p, std::vector<size_t>& out) {
        split_matches(p, Isolate::kEach, is_number, out);
      });
      refine(words, cpts, flags, gpt2);
      break;
    case PreTokenizerKind::kLlama3:
      refine(words, cpts, flags,
             [](const Piece& p, std::vector<size_t>& out) { split_llama3(p, 3, kLetter, out); });
      break;
    case PreTokenizerKind::kQwen2:
      refine(words, cpts, flags,
             [](const Piece& p, std::vector<size_t>& out) { split_llama3(p, 1, kLetter, out); });
      break;
    case PreTokenizerKind::kQwen35:
      refine(words, cpts, flags, [](const Piece& p, std::vector<size_t>& out) {
        split_llama3(p, 1, kLetter | kMark, out);
      });
      break;
    case PreTokenizerKind::kDefault:
      refine(words, cpts, flags, [](const Piece& p, std::vector<size_t>& out) {
        split_matches(p, Isolate::kRuns, is_default_punctuation, out);
      });
      refine(words, cpts, flags, gpt2);
      refine(words, cpts, flags, [](const Piece& p, std::vector<size_t>& out) {
        split_matches(p, Isolate::kRuns, is_number, out);
      });
      refine(words, cpts, flags, split_digit_triples);
      break;
  }
  return words;
}

}  // namespace troupe
