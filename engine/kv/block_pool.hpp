#pragma once
// Hands out KV cache block ids from a free list.
#include <cstdint>
#include <optional>
#include <vector>

namespace troupe {

class BlockPool {
 public:
  explicit BlockPool(int blocks);

  std::optional<int32_t> allocate();
  void release(int32_t block);
  int free_blocks() const { return static_cast<int>(free_.size()); }
  int total_blocks() const { return total_; }

 private:
  int total_;
  std::vector<int32_t> free_;
};

}  // namespace troupe
