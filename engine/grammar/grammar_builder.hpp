#pragma once
// Builds a Grammar by name: rules referenced before they are defined, anonymous rules for groups
// and repetitions, and character classes compiled to UTF-8 byte sequences. The GBNF parser and
// the JSON Schema compiler both build through it.
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "engine/grammar/grammar.hpp"
#include "engine/result.hpp"

namespace troupe::grammar {

using CodepointRanges = std::vector<std::pair<uint32_t, uint32_t>>;  // inclusive

class GrammarBuilder {
 public:
  // The most one grammar holds. A request's grammar is built on the HTTP thread before any other
  // limit applies, and repetition bounds multiply: a{0,1000} alone is 1,000 rules, so a 60 KB
  // pattern could ask for gigabytes. Past either, finish() fails and whatever else is asked
  // for is left out (every index handed out stays valid).
  static constexpr size_t kMostRules = 50000;
  static constexpr size_t kMostElements = size_t{2} << 20;

  // The index of the rule named `name`, creating it (undefined) on first use.
  int32_t rule(std::string_view name);
  // A new rule named after `base` that no name refers to.
  int32_t fresh_rule(std::string_view base);
  // Gives rule `index` its alternatives; false if it has them already.
  bool define(int32_t index, std::vector<Sequence> alternatives);
  bool defined(int32_t index) const;

  // The bytes of `text` in order.
  static Sequence literal(std::string_view text);
  // One element that matches any code point in `ranges` (or, negated, any not in them): a byte
  // range when they are all ASCII and contiguous, else a reference to a new rule.
  Element char_class(CodepointRanges ranges, bool negated, std::string_view base);
  // One element for `sequence`: itself when it is one element, else a new rule's reference.
  Element as_element(Sequence sequence, std::string_view base);
  // `item` repeated min..max times (max < 0: no limit), as a sequence.
  Sequence repeat(const Element& item, int min, int max, std::string_view base);
  // Every rule of `grammar` as a new rule named after `base` (its references kept between
  // them); returns the index of its root here.
  int32_t import(const Grammar& grammar, std::string_view base);

  // The grammar, with `root_name` as its start; an error names a rule used but never defined,
  // or says it grew past kMostRules or kMostElements.
  Result<Grammar> finish(std::string_view root_name);
  size_t rule_count() const { return rules_.size(); }

 private:
  // A new rule's index, or, past kMostRules, the last one's (too_large_ set).
  int32_t add_rule(std::string name);

  size_t elements_ = 0;
  bool too_large_ = false;
  std::vector<Rule> rules_;
  std::vector<bool> defined_;
  std::unordered_map<std::string, int32_t> by_name_;
  std::unordered_map<std::string, int> fresh_count_;
};

}  // namespace troupe::grammar
