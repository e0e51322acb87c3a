#pragma once
// A grammar checked and flattened for matching: every alternative's elements in one array, each
// alternative closed by an end marker, so that a position in the array is "what comes next" in
// one alternative. compile() rejects what a matcher cannot run: references to rules that do not
// exist, no root, and left recursion (a rule that can reach itself before consuming a byte would
// be expanded forever).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/grammar/grammar.hpp"
#include "engine/result.hpp"

namespace troupe::grammar {

struct FlatElement {
  enum class Kind : uint8_t { bytes, rule, end };
  Kind kind = Kind::end;
  uint8_t lo = 0, hi = 0;
  int32_t rule = -1;
};

class CompiledGrammar {
 public:
  static Result<std::shared_ptr<const CompiledGrammar>> compile(const Grammar& grammar);

  const FlatElement& at(int32_t position) const { return elements_[static_cast<size_t>(position)]; }
  // Where each alternative of `rule` starts.
  const std::vector<int32_t>& alternatives(int32_t rule) const {
    return alternatives_[static_cast<size_t>(rule)];
  }
  int32_t root() const { return root_; }
  const std::string& rule_name(int32_t rule) const { return names_[static_cast<size_t>(rule)]; }

 private:
  std::vector<FlatElement> elements_;
  std::vector<std::vector<int32_t>> alternatives_;
  std::vector<std::string> names_;
  int32_t root_ = 0;
};

}  // namespace troupe::grammar
