#include "engine/grammar/grammar_matcher.hpp"

#include <algorithm>

namespace troupe::grammar {
namespace {

// Pushes `position` unless it ends its alternative (then the alternative is done: nothing to
// push, what is under it comes next).
void push_unless_end(const CompiledGrammar& g, Stack& stack, int32_t position) {
  if (g.at(position).kind != FlatElement::Kind::end) stack.push_back(position);
}

// Adds to `out` every stack `stack` becomes once the rule references on its top are expanded,
// so that each one's top is a byte range (or it is empty). Terminates: compile() rejected left
// recursion. Iterative, with `pending` as its work list, so that a deep chain of rules cannot
// exhaust the thread's stack; it stops at kMaxStacks, so that an ambiguous grammar cannot take
// exponential time.
void expand(const CompiledGrammar& g, Stack stack, StackSet& out, StackSet& pending) {
  pending.clear();
  pending.push_back(std::move(stack));
  while (!pending.empty() && out.size() < kMaxStacks) {
    Stack s = std::move(pending.back());
    pending.pop_back();
    if (s.empty() || g.at(s.back()).kind == FlatElement::Kind::bytes) {
      out.push_back(std::move(s));
      continue;
    }
    const int32_t position = s.back();
    s.pop_back();
    push_unless_end(g, s, position + 1);  // what follows the reference in its alternative
    const std::vector<int32_t>& alternatives = g.alternatives(g.at(position).rule);
    for (size_t i = alternatives.size(); i-- > 0;) {  // the first alternative expanded first
      Stack next = s;
      push_unless_end(g, next, alternatives[i]);
      pending.push_back(std::move(next));
    }
  }
}

void normalize(StackSet& stacks) {
  std::sort(stacks.begin(), stacks.end());
  stacks.erase(std::unique(stacks.begin(), stacks.end()), stacks.end());
}

}  // namespace

StackSet start_stacks(const CompiledGrammar& g) {
  StackSet out, pending;
  for (int32_t alternative : g.alternatives(g.root())) {
    Stack stack;
    push_unless_end(g, stack, alternative);
    expand(g, std::move(stack), out, pending);
  }
  normalize(out);
  return out;
}

void advance(const CompiledGrammar& g, const StackSet& from, uint8_t byte, StackSet& to) {
  thread_local StackSet pending;
  to.clear();
  for (const Stack& stack : from) {
    if (stack.empty()) continue;
    const FlatElement& top = g.at(stack.back());
    if (byte < top.lo || byte > top.hi) continue;
    Stack next(stack.begin(), stack.end() - 1);
    push_unless_end(g, next, stack.back() + 1);
    expand(g, std::move(next), to, pending);
  }
  normalize(to);
}

bool accepts_end(const StackSet& stacks) {
  return !stacks.empty() && stacks.front().empty();  // sorted: an empty stack comes first
}

GrammarMatcher::GrammarMatcher(std::shared_ptr<const CompiledGrammar> grammar)
    : grammar_(std::move(grammar)), stacks_(start_stacks(*grammar_)) {}

bool GrammarMatcher::accept(std::string_view bytes) {
  scratch_ = stacks_;
  for (char c : bytes) {
    advance(*grammar_, scratch_, static_cast<uint8_t>(c), next_);
    if (next_.empty()) return false;
    scratch_.swap(next_);
  }
  stacks_.swap(scratch_);
  return true;
}

bool GrammarMatcher::can_continue() const {
  return std::any_of(stacks_.begin(), stacks_.end(), [](const Stack& s) { return !s.empty(); });
}

}  // namespace troupe::grammar
