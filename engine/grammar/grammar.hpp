#pragma once
// A context-free grammar over bytes: what constrained decoding matches a sequence's output
// against. A rule is a list of alternatives, an alternative a sequence of elements, an element
// a range of bytes or a reference to a rule. Classes of characters (GBNF's [a-z], [^"], .) are
// compiled to their UTF-8 byte sequences (utf8_ranges.hpp), so the matcher and the token masks
// see only bytes: a token that ends inside a character is matched as far as its bytes go.
// Plain data, built by the GBNF parser (gbnf.hpp) and the JSON Schema compiler.
#include <cstdint>
#include <string>
#include <vector>

namespace troupe::grammar {

struct Element {
  enum class Kind : uint8_t { bytes, rule };
  Kind kind = Kind::bytes;
  uint8_t lo = 0, hi = 0;  // bytes: any byte in [lo, hi]
  int32_t rule = -1;       // rule: its index in Grammar::rules

  static Element byte_range(uint8_t lo, uint8_t hi) { return {Kind::bytes, lo, hi, -1}; }
  static Element byte(uint8_t b) { return byte_range(b, b); }
  static Element ref(int32_t rule) { return {Kind::rule, 0, 0, rule}; }
  bool operator==(const Element&) const = default;
};

using Sequence = std::vector<Element>;  // empty: matches the empty string

struct Rule {
  std::string name;
  std::vector<Sequence> alternatives;
};

struct Grammar {
  std::vector<Rule> rules;
  int32_t root = 0;
};

}  // namespace troupe::grammar
