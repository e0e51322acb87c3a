#pragma once
// Code points for the tokenizer: UTF-8 decoding the way llama.cpp decodes it, UTF-8 encoding,
// and per-code-point category flags (letters, numbers, whitespace, ...) from generated tables.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace troupe::unicode {

// One bit per Unicode general category group, plus White_Space. Every code point has exactly
// one category bit; whitespace is orthogonal. Values match gen_unicode_tables.py.
enum CodepointFlag : uint16_t {
  kUndefined = 0x001,    // Cn (unassigned)
  kNumber = 0x002,       // \p{N}
  kLetter = 0x004,       // \p{L}
  kSeparator = 0x008,    // \p{Z}
  kMark = 0x010,         // \p{M}
  kPunctuation = 0x020,  // \p{P}
  kSymbol = 0x040,       // \p{S}
  kControl = 0x080,      // \p{C} other than Cn
  kWhitespace = 0x100,   // \s (the White_Space property)
};

inline constexpr uint32_t kMaxCodepoint = 0x10FFFF;
inline constexpr uint32_t kReplacementCharacter = 0xFFFD;

struct CodepointRange {
  uint32_t start;
  uint16_t flags;
};
extern const CodepointRange kCodepointRanges[];
extern const size_t kCodepointRangeCount;

// Category flags of `cpt`; kUndefined for values beyond U+10FFFF.
uint16_t flags(uint32_t cpt);

// Decodes one code point at `pos` and advances `pos`, accepting what llama.cpp accepts: lead
// byte and continuation bits are checked, overlong forms and surrogates are not. A byte that
// starts no valid sequence yields U+FFFD and advances by one, as does a sequence decoding past
// U+10FFFF (llama.cpp would throw on re-encoding it). Requires pos < text.size().
uint32_t decode_lenient(std::string_view text, size_t& pos);

// The whole text decoded with decode_lenient.
std::vector<uint32_t> decode_lenient(std::string_view text);

// Appends the UTF-8 encoding of `cpt` (<= U+10FFFF; surrogates are encoded as-is).
void append_utf8(std::string& out, uint32_t cpt);

// Length of the sequence a lead byte announces, from its high bits alone (llama.cpp's
// unicode_len_utf8): 1 for ASCII and stray continuation bytes, else 2-4.
inline size_t sequence_length_from_lead(uint8_t lead) {
  static constexpr uint8_t kLengths[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLengths[lead >> 4];
}

// Strict UTF-8 (RFC 3629) at `pos` < text.size(): a well-formed sequence (kValid, its
// length), a valid prefix cut off by the end of text (kTruncated, bytes present), or an
// ill-formed one (kInvalid, the length of its maximal subpart, replaced by one U+FFFD).
struct SequenceCheck {
  enum Kind { kValid, kTruncated, kInvalid } kind;
  size_t length;
};
SequenceCheck check_sequence(std::string_view text, size_t pos);

// Appends `bytes` with every ill-formed subsequence replaced by U+FFFD, so the result is valid
// UTF-8 (a truncated sequence at the end counts as ill-formed).
void append_sanitized(std::string& out, std::string_view bytes);

}  // namespace troupe::unicode
