#include "engine/grammar/utf8_ranges.hpp"

namespace troupe::grammar {
namespace {

constexpr uint32_t kLastOfLength[] = {0x7F, 0x7FF, 0xFFFF, 0x10FFFF};  // by encoded length 1-4

int encoded_length(uint32_t cpt) {
  int n = 1;
  while (cpt > kLastOfLength[n - 1]) ++n;
  return n;
}

void encode(uint32_t cpt, int n, uint8_t out[4]) {
  if (n == 1) {
    out[0] = static_cast<uint8_t>(cpt);
    return;
  }
  static constexpr uint8_t kLead[] = {0, 0, 0xC0, 0xE0, 0xF0};
  for (int i = n - 1; i > 0; --i) {
    out[i] = static_cast<uint8_t>(0x80 | (cpt & 0x3F));
    cpt >>= 6;
  }
  out[0] = static_cast<uint8_t>(kLead[n] | cpt);
}

// [lo, hi], both of encoded length n: split until every byte position varies independently
// (all of lo's trailing 6-bit groups below a position are 0 and all of hi's are 63), then one
// range per byte.
void same_length(uint32_t lo, uint32_t hi, int n, std::vector<ByteRanges>& out) {
  for (int i = 1; i < n; ++i) {
    const uint32_t mask = (1u << (6 * i)) - 1;
    if ((lo & ~mask) == (hi & ~mask)) continue;
    if ((lo & mask) != 0) {
      same_length(lo, lo | mask, n, out);
      same_length((lo | mask) + 1, hi, n, out);
      return;
    }
    if ((hi & mask) != mask) {
      same_length(lo, (hi & ~mask) - 1, n, out);
      same_length(hi & ~mask, hi, n, out);
      return;
    }
  }
  uint8_t a[4], b[4];
  encode(lo, n, a);
  encode(hi, n, b);
  ByteRanges seq;
  for (int i = 0; i < n; ++i) seq.emplace_back(a[i], b[i]);
  out.push_back(std::move(seq));
}

}  // namespace

void utf8_sequences(uint32_t lo, uint32_t hi, std::vector<ByteRanges>& out) {
  if (lo > hi) return;
  if (lo <= 0xDFFF && hi >= 0xD800) {  // cut the surrogates out
    if (lo < 0xD800) utf8_sequences(lo, 0xD7FF, out);
    if (hi > 0xDFFF) utf8_sequences(0xE000, hi, out);
    return;
  }
  const int n = encoded_length(lo);
  if (encoded_length(hi) != n) {
    same_length(lo, kLastOfLength[n - 1], n, out);
    utf8_sequences(kLastOfLength[n - 1] + 1, hi, out);
    return;
  }
  same_length(lo, hi, n, out);
}

}  // namespace troupe::grammar
