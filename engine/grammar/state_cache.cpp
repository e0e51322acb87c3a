#include "engine/grammar/state_cache.hpp"

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
  int32_t known = next_[static_cast<size_t>(state)][byte];
  if (known != kUnknown) return known;
  advance(*grammar_, sets_[static_cast<size_t>(state)], byte, scratch_);
  known = scratch_.empty() ? kDead : state_of(scratch_);
  next_[static_cast<size_t>(state)][byte] = known;  // after state_of: it may grow next_
  return known;
}

}  // namespace troupe::grammar
