#include "engine/grammar/grammar_builder.hpp"

#include <algorithm>

#include "engine/grammar/utf8_ranges.hpp"

namespace troupe::grammar {
namespace {

constexpr uint32_t kLastCodepoint = 0x10FFFF;

// Sorted, overlaps and neighbours merged.
CodepointRanges merged(CodepointRanges ranges) {
  std::sort(ranges.begin(), ranges.end());
  CodepointRanges out;
  for (const auto& [lo, hi] : ranges) {
    if (!out.empty() && lo <= out.back().second + 1) {
      out.back().second = std::max(out.back().second, hi);
    } else {
      out.emplace_back(lo, hi);
    }
  }
  return out;
}

CodepointRanges complement(const CodepointRanges& sorted) {
  CodepointRanges out;
  uint32_t next = 0;
  for (const auto& [lo, hi] : sorted) {
    if (lo > next) out.emplace_back(next, lo - 1);
    next = hi + 1;
  }
  if (next <= kLastCodepoint) out.emplace_back(next, kLastCodepoint);
  return out;
}

}  // namespace

int32_t GrammarBuilder::add_rule(std::string name) {
  if (rules_.size() >= kMostRules) {
    too_large_ = true;
    return static_cast<int32_t>(rules_.size()) - 1;
  }
  rules_.push_back({std::move(name), {}});
  defined_.push_back(false);
  return static_cast<int32_t>(rules_.size()) - 1;
}

int32_t GrammarBuilder::rule(std::string_view name) {
  const std::string key(name);
  if (auto it = by_name_.find(key); it != by_name_.end()) return it->second;
  const int32_t index = add_rule(key);
  if (!too_large_) by_name_.emplace(key, index);
  return index;
}

int32_t GrammarBuilder::fresh_rule(std::string_view base) {
  // Names with a character GBNF names cannot hold, so they never meet a user's rule.
  std::string name(base);
  name += '#' + std::to_string(++fresh_count_[name]);
  return add_rule(std::move(name));
}

int32_t GrammarBuilder::import(const Grammar& grammar, std::string_view base) {
  std::vector<int32_t> index_of;
  for (size_t i = 0; i < grammar.rules.size(); ++i) index_of.push_back(fresh_rule(base));
  for (size_t i = 0; i < grammar.rules.size(); ++i) {
    std::vector<Sequence> alternatives = grammar.rules[i].alternatives;
    for (Sequence& s : alternatives) {
      for (Element& e : s) {
        if (e.kind == Element::Kind::rule) e.rule = index_of[static_cast<size_t>(e.rule)];
      }
    }
    define(index_of[i], std::move(alternatives));
  }
  return index_of[static_cast<size_t>(grammar.root)];
}

bool GrammarBuilder::define(int32_t index, std::vector<Sequence> alternatives) {
  for (const Sequence& s : alternatives) elements_ += s.size();
  if (elements_ > kMostElements) too_large_ = true;
  if (too_large_) return true;  // left out: finish() fails
  if (defined_[static_cast<size_t>(index)]) return false;
  rules_[static_cast<size_t>(index)].alternatives = std::move(alternatives);
  defined_[static_cast<size_t>(index)] = true;
  return true;
}

bool GrammarBuilder::defined(int32_t index) const {
  return defined_[static_cast<size_t>(index)];
}

Sequence GrammarBuilder::literal(std::string_view text) {
  Sequence out;
  for (char c : text) out.push_back(Element::byte(static_cast<uint8_t>(c)));
  return out;
}

Element GrammarBuilder::char_class(CodepointRanges ranges, bool negated, std::string_view base) {
  for (auto& [lo, hi] : ranges) hi = std::min(hi, kLastCodepoint);
  ranges = merged(std::move(ranges));
  if (negated) ranges = complement(ranges);
  if (ranges.size() == 1 && ranges[0].second < 0x80) {
    return Element::byte_range(static_cast<uint8_t>(ranges[0].first),
                               static_cast<uint8_t>(ranges[0].second));
  }
  std::vector<ByteRanges> encodings;
  for (const auto& [lo, hi] : ranges) utf8_sequences(lo, hi, encodings);
  std::vector<Sequence> alternatives;
  for (const ByteRanges& bytes : encodings) {
    Sequence seq;
    for (const auto& [lo, hi] : bytes) seq.push_back(Element::byte_range(lo, hi));
    alternatives.push_back(std::move(seq));
  }
  // A class of nothing (e.g. [^\x00-\U0010FFFF]) can never match: a rule with an impossible
  // alternative says so without being an empty rule.
  if (alternatives.empty()) alternatives.push_back({Element::byte_range(0xFF, 0xFF)});
  const int32_t r = fresh_rule(base);
  define(r, std::move(alternatives));
  return Element::ref(r);
}

Element GrammarBuilder::as_element(Sequence sequence, std::string_view base) {
  if (sequence.size() == 1) return sequence[0];
  const int32_t r = fresh_rule(base);
  define(r, {std::move(sequence)});
  return Element::ref(r);
}

Sequence GrammarBuilder::repeat(const Element& item, int min, int max, std::string_view base) {
  if (too_large_) return {};
  Sequence out(static_cast<size_t>(min), item);
  if (max < 0) {  // item*: star ::= item star | (nothing)
    const int32_t star = fresh_rule(base);
    define(star, {{item, Element::ref(star)}, {}});
    out.push_back(Element::ref(star));
    return out;
  }
  // Up to max - min more, each optional after the one before: opt_k ::= item opt_k-1 | (nothing).
  int32_t tail = -1;
  for (int k = 0; k < max - min && !too_large_; ++k) {
    const int32_t opt = fresh_rule(base);
    Sequence more{item};
    if (tail >= 0) more.push_back(Element::ref(tail));
    define(opt, {std::move(more), {}});
    tail = opt;
  }
  if (tail >= 0) out.push_back(Element::ref(tail));
  return out;
}

Result<Grammar> GrammarBuilder::finish(std::string_view root_name) {
  if (too_large_) {
    return make_error("the grammar is too large: more than " + std::to_string(kMostRules) +
                      " rules or " + std::to_string(kMostElements) +
                      " elements (each bound of a repetition such as {0,1000} adds a rule)");
  }
  const auto root = by_name_.find(std::string(root_name));
  if (root == by_name_.end() || !defined_[static_cast<size_t>(root->second)]) {
    return make_error("the grammar has no rule named '" + std::string(root_name) + "'");
  }
  for (size_t r = 0; r < rules_.size(); ++r) {
    if (!defined_[r]) return make_error("grammar rule '" + rules_[r].name + "' is not defined");
  }
  return Grammar{rules_, root->second};
}

}  // namespace troupe::grammar
