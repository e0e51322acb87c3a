#include "engine/kv/block_pool.hpp"

#include <stdexcept>

namespace troupe {

BlockPool::BlockPool(int blocks) : total_(blocks) {
  free_.reserve(static_cast<size_t>(blocks));
  // Lowest ids first: pop_back hands out block 0, 1, 2, ...
  for (int32_t b = blocks - 1; b >= 0; --b) free_.push_back(b);
}

std::optional<int32_t> BlockPool::allocate() {
  if (free_.empty()) return std::nullopt;
  const int32_t b = free_.back();
  free_.pop_back();
  return b;
}

void BlockPool::release(int32_t block) {
  if (block < 0 || block >= total_ || static_cast<int>(free_.size()) >= total_) {
    throw std::logic_error("BlockPool::release: invalid block");
  }
  free_.push_back(block);
}

}  // namespace troupe
