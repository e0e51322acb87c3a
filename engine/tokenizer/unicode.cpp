#include "engine/tokenizer/unicode.hpp"

#include <algorithm>
#include <array>

namespace troupe::unicode {
namespace {

uint16_t lookup_ranges(uint32_t cpt) {
  const CodepointRange* begin = kCodepointRanges;
  const CodepointRange* end = kCodepointRanges + kCodepointRangeCount;
  // The last range whose start is <= cpt.
  const CodepointRange* it = std::upper_bound(
      begin, end, cpt, [](uint32_t value, const CodepointRange& r) { return value < r.start; });
  return (it - 1)->flags;
}

// Latin-1 is most of what prompts hold: look it up directly.
const std::array<uint16_t, 256>& latin1_flags() {
  static const std::array<uint16_t, 256> table = [] {
    std::array<uint16_t, 256> t{};
    for (uint32_t c = 0; c < 256; ++c) t[c] = lookup_ranges(c);
    return t;
  }();
  return table;
}

bool is_continuation(uint8_t b) {
  return (b & 0xC0) == 0x80;
}

}  // namespace

uint16_t flags(uint32_t cpt) {
  if (cpt < 256) return latin1_flags()[cpt];
  if (cpt > kMaxCodepoint) return kUndefined;
  return lookup_ranges(cpt);
}

uint32_t decode_lenient(std::string_view text, size_t& pos) {
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(text[i]); };
  const uint8_t b0 = byte(pos);
  const size_t left = text.size() - pos;
  if (b0 < 0x80) {
    pos += 1;
    return b0;
  }
  if ((b0 & 0xE0) == 0xC0 && left >= 2 && is_continuation(byte(pos + 1))) {
    const uint32_t cpt = ((b0 & 0x1Fu) << 6) | (byte(pos + 1) & 0x3Fu);
    pos += 2;
    return cpt;
  }
  if ((b0 & 0xF0) == 0xE0 && left >= 3 && is_continuation(byte(pos + 1)) &&
      is_continuation(byte(pos + 2))) {
    const uint32_t cpt =
        ((b0 & 0x0Fu) << 12) | ((byte(pos + 1) & 0x3Fu) << 6) | (byte(pos + 2) & 0x3Fu);
    pos += 3;
    return cpt;
  }
  if ((b0 & 0xF8) == 0xF0 && left >= 4 && is_continuation(byte(pos + 1)) &&
      is_continuation(byte(pos + 2)) && is_continuation(byte(pos + 3))) {
    const uint32_t cpt = ((b0 & 0x07u) << 18) | ((byte(pos + 1) & 0x3Fu) << 12) |
                         ((byte(pos + 2) & 0x3Fu) << 6) | (byte(pos + 3) & 0x3Fu);
    if (cpt <= kMaxCodepoint) {
      pos += 4;
      return cpt;
    }
  }
  pos += 1;
  return kReplacementCharacter;
}

std::vector<uint32_t> decode_lenient(std::string_view text) {
  std::vector<uint32_t> cpts;
  cpts.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) cpts.push_back(decode_lenient(text, pos));
  return cpts;
}

void append_utf8(std::string& out, uint32_t cpt) {
  if (cpt < 0x80) {
    out.push_back(static_cast<char>(cpt));
  } else if (cpt < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cpt >> 6)));
    out.push_back(static_cast<char>(0x80 | (cpt & 0x3F)));
  } else if (cpt < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cpt >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cpt >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cpt & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | ((cpt >> 18) & 0x07)));
    out.push_back(static_cast<char>(0x80 | ((cpt >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cpt >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cpt & 0x3F)));
  }
}

SequenceCheck check_sequence(std::string_view text, size_t pos) {
  const uint8_t b0 = static_cast<uint8_t>(text[pos]);
  if (b0 < 0x80) return {SequenceCheck::kValid, 1};
  size_t need = 0;
  uint8_t lo = 0x80, hi = 0xBF;  // allowed range of the second byte (Unicode table 3-7)
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 3;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return {SequenceCheck::kInvalid, 1};
  }
  for (size_t i = 1; i < need; ++i) {
    if (pos + i >= text.size()) return {SequenceCheck::kTruncated, i};
    const uint8_t b = static_cast<uint8_t>(text[pos + i]);
    const bool ok = i == 1 ? (b >= lo && b <= hi) : is_continuation(b);
    if (!ok) return {SequenceCheck::kInvalid, i};
  }
  return {SequenceCheck::kValid, need};
}

void append_sanitized(std::string& out, std::string_view bytes) {
  size_t pos = 0;
  while (pos < bytes.size()) {
    const SequenceCheck check = check_sequence(bytes, pos);
    if (check.kind == SequenceCheck::kValid) {
      out.append(bytes.substr(pos, check.length));
    } else {
      append_utf8(out, kReplacementCharacter);
    }
    pos += check.length;
  }
}

}  // namespace troupe::unicode
