#include "engine/chat/unicode_text.hpp"

#include <algorithm>

namespace troupe::chat {

size_t count_code_points(std::string_view text) {
  size_t count = 0;
  for (size_t pos = 0; pos < text.size(); ++count) decode_lenient(text, pos);
  return count;
}

std::vector<std::string_view> split_code_points(std::string_view text) {
  std::vector<std::string_view> out;
  for (size_t pos = 0; pos < text.size();) {
    const size_t start = pos;
    decode_lenient(text, pos);
    out.push_back(text.substr(start, pos - start));
  }
  return out;
}

bool is_py_space(char32_t cp) {
  if (cp == ' ' || (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x1F)) return true;
  if (cp < 0x85) return false;
  return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
         cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

size_t py_space_length(std::string_view text, size_t pos) {
  if (pos >= text.size()) return 0;
  size_t next = pos;
  const char32_t cp = decode_lenient(text, next);
  return is_py_space(cp) ? next - pos : 0;
}

namespace {

// Returns the start of the code point that ends at `end` (exclusive).
size_t previous_code_point(std::string_view text, size_t end) {
  size_t start = end - 1;
  while (start > 0 && end - start < 4 && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80)
    --start;
  size_t probe = start;
  decode_lenient(text, probe);
  return probe == end ? start : end - 1;  // invalid sequences step back one byte
}

template <typename Pred>
std::string_view strip_if(std::string_view text, bool left, bool right, Pred should_strip) {
  size_t begin = 0;
  size_t end = text.size();
  if (left) {
    while (begin < end) {
      size_t next = begin;
      if (!should_strip(decode_lenient(text, next))) break;
      begin = next;
    }
  }
  if (right) {
    while (end > begin) {
      const size_t start = previous_code_point(text, end);
      size_t probe = start;
      if (!should_strip(decode_lenient(text, probe))) break;
      end = start;
    }
  }
  return text.substr(begin, end - begin);
}

struct CaseRange {
  char32_t upper_first, upper_last;
  int32_t delta;  // lower = upper + delta
};

// Contiguous ranges where lower = upper + delta.
constexpr CaseRange kBlockRanges[] = {
    {0x41, 0x5A, 32},   {0xC0, 0xD6, 32},   {0xD8, 0xDE, 32},     {0x391, 0x3A1, 32},
    {0x3A3, 0x3AB, 32}, {0x388, 0x38A, 37}, {0x38E, 0x38F, 63},   {0x410, 0x42F, 32},
    {0x400, 0x40F, 80}, {0x531, 0x556, 48}, {0xFF21, 0xFF3A, 32},
};

// Ranges where upper is even and lower = upper + 1 (or upper odd when `odd_upper`).
struct PairRange {
  char32_t first, last;
  bool odd_upper;
};
constexpr PairRange kPairRanges[] = {
    {0x100, 0x12F, false},   {0x132, 0x137, false},   {0x139, 0x148, true},  {0x14A, 0x177, false},
    {0x179, 0x17E, true},    {0x460, 0x481, false},   {0x48A, 0x4BF, false}, {0x4D0, 0x52F, false},
    {0x1E00, 0x1E95, false}, {0x1EA0, 0x1EFF, false},
};

char32_t simple_lower(char32_t cp) {
  for (const auto& r : kBlockRanges)
    if (cp >= r.upper_first && cp <= r.upper_last) return cp + r.delta;
  for (const auto& r : kPairRanges)
    if (cp >= r.first && cp <= r.last && ((cp & 1) == (r.odd_upper ? 1u : 0u))) return cp + 1;
  switch (cp) {
    case 0x178:
      return 0xFF;
    case 0x386:
      return 0x3AC;
    case 0x38C:
      return 0x3CC;
    default:
      return cp;
  }
}

char32_t simple_upper(char32_t cp) {
  for (const auto& r : kBlockRanges) {
    const char32_t lo = r.upper_first + r.delta, hi = r.upper_last + r.delta;
    if (cp >= lo && cp <= hi) return cp - r.delta;
  }
  for (const auto& r : kPairRanges)
    if (cp > r.first && cp <= r.last + 1 && ((cp & 1) != (r.odd_upper ? 1u : 0u))) {
      const char32_t upper = cp - 1;
      if (upper >= r.first && upper <= r.last) return upper;
    }
  switch (cp) {
    case 0xFF:
      return 0x178;
    case 0xB5:
      return 0x39C;
    case 0x131:
      return 'I';
    case 0x17F:
      return 'S';
    case 0x3C2:
      return 0x3A3;
    case 0x3AC:
      return 0x386;
    case 0x3CC:
      return 0x38C;
    default:
      return cp;
  }
}

// Latin digraphs (DŽ Lj Nj Dz) come in upper, title and lower forms: U+01C4..U+01CC, U+01F1..3.
char32_t digraph_base(char32_t cp) {
  if (cp >= 0x1C4 && cp <= 0x1CC) return 0x1C4 + (cp - 0x1C4) / 3 * 3;
  if (cp >= 0x1F1 && cp <= 0x1F3) return 0x1F1;
  return 0;
}

// Ligatures U+FB00..U+FB06 expand when case-mapped (ﬁ -> FI).
const char* ligature_upper(char32_t cp) {
  static const char* kUpper[] = {"FF", "FI", "FL", "FFI", "FFL", "ST", "ST"};
  return cp >= 0xFB00 && cp <= 0xFB06 ? kUpper[cp - 0xFB00] : nullptr;
}

void append_upper(std::string& out, char32_t cp) {
  if (cp == 0xDF) {
    out += "SS";  // ß has no single-character upper case
    return;
  }
  if (const char32_t base = digraph_base(cp)) return append_utf8(out, base);
  if (const char* expanded = ligature_upper(cp)) {
    out += expanded;
    return;
  }
  append_utf8(out, simple_upper(cp));
}

void append_lower(std::string& out, char32_t cp) {
  if (cp == 0x130) {
    out += "i\xCC\x87";  // İ lowers to i + combining dot above
    return;
  }
  if (const char32_t base = digraph_base(cp)) return append_utf8(out, base + 2);
  append_utf8(out, simple_lower(cp));
}

void append_title(std::string& out, char32_t cp) {
  if (cp == 0xDF) {
    out += "Ss";
    return;
  }
  if (const char32_t base = digraph_base(cp)) return append_utf8(out, base + 1);
  if (const char* expanded = ligature_upper(cp)) {
    out += expanded[0];
    out += py_lower(expanded + 1);
    return;
  }
  append_utf8(out, simple_upper(cp));
}

}  // namespace

std::string_view py_strip(std::string_view text, bool left, bool right) {
  return strip_if(text, left, right, is_py_space);
}

std::string_view py_strip_chars(std::string_view text, std::string_view chars, bool left,
                                bool right) {
  std::vector<char32_t> set;
  for (size_t pos = 0; pos < chars.size();) set.push_back(decode_lenient(chars, pos));
  return strip_if(text, left, right,
                  [&](char32_t cp) { return std::find(set.begin(), set.end(), cp) != set.end(); });
}

bool is_cased_lower(char32_t cp) {
  if (const char32_t base = digraph_base(cp)) return cp == base + 2;
  return simple_upper(cp) != cp || cp == 0xDF || ligature_upper(cp) != nullptr;
}
bool is_cased_upper(char32_t cp) {
  if (const char32_t base = digraph_base(cp)) return cp == base;
  return simple_lower(cp) != cp;
}

bool is_alpha(char32_t cp) {
  if (cp < 0x80) return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z');
  if (is_cased_lower(cp) || is_cased_upper(cp) || digraph_base(cp) != 0 || cp == 0xAA || cp == 0xBA)
    return true;
  // Approximation: letters of uncased scripts (CJK, Arabic, ...) count as alphabetic.
  return cp >= 0x370 && !is_py_space(cp) && !(cp >= 0x2000 && cp <= 0x2BFF) &&
         !(cp >= 0x3000 && cp <= 0x303F) && !(cp >= 0xFF00 && cp <= 0xFF20);
}

std::string py_upper(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) append_upper(out, decode_lenient(text, pos));
  return out;
}

std::string py_lower(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) append_lower(out, decode_lenient(text, pos));
  return out;
}

std::string py_capitalize(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    const bool first = pos == 0;
    const char32_t cp = decode_lenient(text, pos);
    if (first)
      append_title(out, cp);
    else
      append_lower(out, cp);
  }
  return out;
}

std::string py_title_method(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool previous_cased = false;
  for (size_t pos = 0; pos < text.size();) {
    const char32_t cp = decode_lenient(text, pos);
    if (previous_cased)
      append_lower(out, cp);
    else
      append_title(out, cp);
    previous_cased = is_cased_lower(cp) || is_cased_upper(cp) || digraph_base(cp) != 0;
  }
  return out;
}

std::vector<std::string_view> py_splitlines(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t line_start = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t start = pos;
    const char32_t cp = decode_lenient(text, pos);
    const bool is_break = cp == '\n' || cp == '\r' || cp == 0x0B || cp == 0x0C ||
                          (cp >= 0x1C && cp <= 0x1E) || cp == 0x85 || cp == 0x2028 || cp == 0x2029;
    if (!is_break) continue;
    lines.push_back(text.substr(line_start, start - line_start));
    if (cp == '\r' && pos < text.size() && text[pos] == '\n') ++pos;
    line_start = pos;
  }
  if (line_start < text.size()) lines.push_back(text.substr(line_start));
  return lines;
}

}  // namespace troupe::chat
