#include "engine/grammar/state_cache.hpp"

#include <algorithm>

namespace troupe::grammar {

size_t StateCache::Hash::operator()(const StackSet& s) const {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a over the positions, stacks separated
  for (const Stack& stack : s) {
    for (int32_t p : stack) h = (h ^ static_cast<uint32_t>(p)) * 0x100000001b3ull;
    h = (h ^ 0xffffffffu) * 0x100000001b3ull;
  }
  return static_cast<size_t>(h);
}

StateCache::StateCache(std::shared_ptr<const CompiledGrammar> grammar)
    : grammar_(std::move(grammar)) {}

int32_t StateCache::state_of(const StackSet& stacks) {
  if (auto it = ids_.find(stacks); it != ids_.end()) return it->second;
  const auto id = static_cast<int32_t>(sets_.size());
  sets_.push_back(stacks);
  next_.emplace_back();
  next_.back().fill(kUnknown);
  ids_.emplace(stacks, id);
  return id;
}

int32_t StateCache::next(int32_t state, uint8_t byte) {
  const int32_t known = next_[static_cast<size_t>(state)][byte];
  if (known != kUnknown) return known;
  fill_row(state);
  return next_[static_cast<size_t>(state)][byte];
}

void StateCache::fill_row(int32_t state) {
  // The stacks' top ranges cut the bytes into intervals within which every byte is taken by the
  // same stacks, and so leads to the same state: one advance() per interval, not per byte (a
  // state inside a JSON string has a handful of intervals).
  std::vector<int> cuts = {0, 256};
  for (const Stack& stack : sets_[static_cast<size_t>(state)]) {
    if (stack.empty()) continue;
    const FlatElement& top = grammar_->at(stack.back());
    cuts.push_back(top.lo);
    cuts.push_back(top.hi + 1);
  }
  std::sort(cuts.begin(), cuts.end());
  cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
  for (size_t i = 0; i + 1 < cuts.size(); ++i) {
    advance(*grammar_, sets_[static_cast<size_t>(state)], static_cast<uint8_t>(cuts[i]), scratch_);
    const int32_t to = scratch_.empty() ? kDead : state_of(scratch_);  // may grow next_
    auto& row = next_[static_cast<size_t>(state)];
    std::fill(row.begin() + cuts[i], row.begin() + cuts[i + 1], to);
  }
}

}  // namespace troupe::grammar
