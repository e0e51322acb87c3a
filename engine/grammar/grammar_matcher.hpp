#pragma once
// Where a sequence's output stands in its grammar: the set of parse stacks that the bytes so far
// leave open (a pushdown automaton run on every parse at once, as llama.cpp's grammar keeps it).
// A stack holds positions in the compiled grammar, the next thing to match on top; its top is
// always a byte range, and an empty stack means the root has been matched whole. Expanding a
// rule reference replaces it by each of the rule's alternatives, so the set is the grammar's
// every way forward; a byte keeps the stacks whose top takes it.
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "engine/grammar/compiled_grammar.hpp"

namespace troupe::grammar {

using Stack = std::vector<int32_t>;   // positions in the compiled grammar, the top last
using StackSet = std::vector<Stack>;  // sorted, no duplicates

// An ambiguous grammar can multiply its stacks. Past this many the set keeps its first ones: the
// output still matches the grammar, though some of the ways it could have continued are lost.
inline constexpr size_t kMaxStacks = 4096;

// The stacks of `grammar`'s start.
StackSet start_stacks(const CompiledGrammar& grammar);
// The stacks after `byte` from `from` (empty when no stack takes it), into `to`.
void advance(const CompiledGrammar& grammar, const StackSet& from, uint8_t byte, StackSet& to);
// Whether some stack is empty: the bytes so far are a whole sentence of the grammar.
bool accepts_end(const StackSet& stacks);

class GrammarMatcher {
 public:
  explicit GrammarMatcher(std::shared_ptr<const CompiledGrammar> grammar);

  // Consumes `bytes` if every one of them is allowed in turn; otherwise changes nothing.
  bool accept(std::string_view bytes);
  bool complete() const { return accepts_end(stacks_); }
  // Whether any byte may still follow.
  bool can_continue() const;

  const StackSet& stacks() const { return stacks_; }
  const CompiledGrammar& grammar() const { return *grammar_; }

 private:
  std::shared_ptr<const CompiledGrammar> grammar_;
  StackSet stacks_;
  StackSet scratch_, next_;
};

}  // namespace troupe::grammar
