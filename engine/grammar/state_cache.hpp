#pragma once
// Stack sets interned as numbered states, with their byte transitions filled in as they are
// first taken: the grammar's deterministic automaton, built lazily (subset construction on
// demand). A token mask walks the vocabulary's trie through it, so that the ~150,000 trie
// edges of a state where nearly every token fits (inside a JSON string) cost a table lookup
// each instead of an advance() over the stacks: the states a token's bytes pass through are few
// (inside a string, after any ordinary character the set is the same one again).
#include <array>
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "engine/grammar/grammar_matcher.hpp"

namespace troupe::grammar {

class StateCache {
 public:
  static constexpr int32_t kDead = -1;  // no stack takes the byte

  explicit StateCache(std::shared_ptr<const CompiledGrammar> grammar);

  // The number of `stacks` (interning it on first sight).
  int32_t state_of(const StackSet& stacks);
  // The state after `byte` from `state`, or kDead.
  int32_t next(int32_t state, uint8_t byte);
  const StackSet& stacks(int32_t state) const { return sets_[static_cast<size_t>(state)]; }
  bool complete(int32_t state) const { return accepts_end(stacks(state)); }
  size_t states() const { return sets_.size(); }
  const CompiledGrammar& grammar() const { return *grammar_; }

 private:
  struct Hash {
    size_t operator()(const StackSet& s) const;
  };
  static constexpr int32_t kUnknown = -2;
  void fill_row(int32_t state);  // every byte's next state from `state`

  std::shared_ptr<const CompiledGrammar> grammar_;
  std::vector<StackSet> sets_;
  std::vector<std::array<int32_t, 256>> next_;
  std::unordered_map<StackSet, int32_t, Hash> ids_;
  StackSet scratch_;
};

}  // namespace troupe::grammar
