#include "engine/grammar/grammar_words.hpp"

#include <string>

namespace troupe::grammar {

std::vector<int32_t> to_words(const Grammar& grammar) {
  std::vector<int32_t> out{grammar.root, static_cast<int32_t>(grammar.rules.size())};
  for (const Rule& rule : grammar.rules) {
    out.push_back(static_cast<int32_t>(rule.alternatives.size()));
    for (const Sequence& alt : rule.alternatives) {
      out.push_back(static_cast<int32_t>(alt.size()));
      for (const Element& e : alt) {
        out.push_back(e.kind == Element::Kind::rule ? -(e.rule + 1) : e.lo | (e.hi << 8));
      }
    }
  }
  return out;
}

Result<Grammar> from_words(std::span<const int32_t> words) {
  size_t at = 0;
  bool bad = false;
  // The next word as a count that the words left can hold (each counted thing takes a word).
  auto count = [&]() -> size_t {
    if (at >= words.size() || words[at] < 0 || static_cast<size_t>(words[at]) > words.size() - at) {
      bad = true;
      return 0;
    }
    return static_cast<size_t>(words[at++]);
  };
  if (words.size() < 2) return make_error("grammar words: too short");
  Grammar g;
  g.root = words[at++];
  const size_t rules = count();
  for (size_t r = 0; r < rules && !bad; ++r) {
    Rule& rule = g.rules.emplace_back();
    rule.name = "rule " + std::to_string(r);
    const size_t alternatives = count();
    for (size_t a = 0; a < alternatives && !bad; ++a) {
      Sequence& alt = rule.alternatives.emplace_back();
      const size_t elements = count();
      for (size_t e = 0; e < elements && !bad; ++e) {
        if (at >= words.size()) {
          bad = true;
          break;
        }
        const int32_t w = words[at++];
        if (w < 0) {
          alt.push_back(Element::ref(-(w + 1)));
        } else if (w <= 0xFFFF) {
          alt.push_back(
              Element::byte_range(static_cast<uint8_t>(w & 0xFF), static_cast<uint8_t>(w >> 8)));
        } else {
          bad = true;
        }
      }
    }
  }
  if (bad || at != words.size()) return make_error("grammar words: malformed");
  return g;  // indices are checked by CompiledGrammar::compile
}

}  // namespace troupe::grammar
