#pragma once
// What GBNF (gbnf.cpp) and regular expressions (regex.cpp) read alike: hexadecimal escapes and
// repetition counts. Each returns nothing where the text does not hold one; the parser says why.
#include <cstdint>
#include <optional>
#include <string_view>

namespace troupe::grammar {

// Repetition bounds ({m,n}): each copy becomes a rule or an element.
inline constexpr int kMaxRepetition = 1000;

// `digits` hexadecimal digits at `pos`, which advances past those read.
inline std::optional<uint32_t> read_hex(std::string_view text, size_t& pos, int digits) {
  uint32_t value = 0;
  for (int i = 0; i < digits; ++i, ++pos) {
    const char h = pos < text.size() ? text[pos] : '\0';
    uint32_t d;
    if (h >= '0' && h <= '9') {
      d = static_cast<uint32_t>(h - '0');
    } else if (h >= 'a' && h <= 'f') {
      d = static_cast<uint32_t>(h - 'a' + 10);
    } else if (h >= 'A' && h <= 'F') {
      d = static_cast<uint32_t>(h - 'A' + 10);
    } else {
      return std::nullopt;
    }
    value = value * 16 + d;
  }
  return value;
}

// A decimal count at `pos` up to kMaxRepetition (`pos` advances past its digits); -1 when
// there is no digit, -2 when it is larger.
inline int read_count(std::string_view text, size_t& pos) {
  const size_t start = pos;
  int value = 0;
  while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
    value = value * 10 + (text[pos++] - '0');
    if (value > kMaxRepetition) return -2;
  }
  return pos == start ? -1 : value;
}

}  // namespace troupe::grammar
