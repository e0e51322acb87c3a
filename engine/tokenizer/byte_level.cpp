#include "engine/tokenizer/byte_level.hpp"

#include <array>

#include "engine/tokenizer/unicode.hpp"

namespace troupe::byte_level {
namespace {

bool stands_for_itself(int byte) {
  return (byte >= 0x21 && byte <= 0x7E) || (byte >= 0xA1 && byte <= 0xAC) ||
         (byte >= 0xAE && byte <= 0xFF);
}

struct Tables {
  std::array<uint32_t, 256> byte_to_cpt{};
  std::array<int16_t, 0x144> cpt_to_byte{};  // every mapped code point is below U+0144
  std::array<std::string, 256> spelled;
};

const Tables& tables() {
  static const Tables t = [] {
    Tables t;
    t.cpt_to_byte.fill(-1);
    uint32_t next = 0x100;
    for (int b = 0; b < 256; ++b) {
      const uint32_t cpt = stands_for_itself(b) ? static_cast<uint32_t>(b) : next++;
      t.byte_to_cpt[b] = cpt;
      t.cpt_to_byte[cpt] = static_cast<int16_t>(b);
      unicode::append_utf8(t.spelled[b], cpt);
    }
    return t;
  }();
  return t;
}

}  // namespace

std::string_view encode(uint8_t byte) {
  return tables().spelled[byte];
}

int decode(uint32_t cpt) {
  const Tables& t = tables();
  return cpt < t.cpt_to_byte.size() ? t.cpt_to_byte[cpt] : -1;
}

void append_encoded(std::string& out, std::string_view raw) {
  const Tables& t = tables();
  for (char c : raw) out.append(t.spelled[static_cast<uint8_t>(c)]);
}

}  // namespace troupe::byte_level
