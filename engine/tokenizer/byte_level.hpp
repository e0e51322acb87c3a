#pragma once
// GPT-2's byte-level alphabet: byte-level BPE vocabularies spell every byte as one printable
// code point (printable ASCII and most of Latin-1 stand for themselves; the other 68 bytes map
// to U+0100..U+0143 in order), so token texts never hold spaces or control characters.
#include <cstdint>
#include <string>
#include <string_view>

namespace troupe::byte_level {

// The UTF-8 spelling of `byte`'s code point (one or two bytes).
std::string_view encode(uint8_t byte);

// The byte a code point stands for, or -1 if it is not in the alphabet.
int decode(uint32_t cpt);

// Spells raw bytes in the alphabet.
void append_encoded(std::string& out, std::string_view raw);

}  // namespace troupe::byte_level
