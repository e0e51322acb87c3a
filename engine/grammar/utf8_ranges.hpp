#pragma once
// A range of code points as the byte sequences of its UTF-8 encodings: each sequence a list of
// byte ranges, one per byte, so that a string is in [lo, hi] exactly when it matches one of them.
// Surrogates (U+D800-U+DFFF) are left out: they are not characters, and UTF-8 never encodes them.
#include <cstdint>
#include <utility>
#include <vector>

namespace troupe::grammar {

using ByteRanges = std::vector<std::pair<uint8_t, uint8_t>>;

// Appends to `out` the sequences of [lo, hi] (lo <= hi <= U+10FFFF).
void utf8_sequences(uint32_t lo, uint32_t hi, std::vector<ByteRanges>& out);

}  // namespace troupe::grammar
