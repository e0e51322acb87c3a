#pragma once
// Host memory the GPU copies into at full speed (page-locked, cudaMallocHost), owned by one
// object; it grows, never shrinks, and what it holds now is the span of its last `fill`. Copies
// from device memory into pageable memory go through a staging buffer at a fraction of the link's
// speed: a decode step's logits (vocabulary x sequences floats) come back through this.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstddef>
#include <span>
#include <utility>

#include "kernels/cuda/cuda_check.hpp"

namespace troupe::cuda {

template <typename T>
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;
  ~PinnedBuffer() {
    if (data_) cudaFreeHost(data_);
  }

  // Room for `count` elements (grown geometrically; old contents not kept); they become the span.
  T* fill(size_t count) {
    if (count > capacity_) {
      const size_t grown = std::max(count, 2 * capacity_);
      if (data_) cudaFreeHost(std::exchange(data_, nullptr));
      capacity_ = 0;
      check(cudaMallocHost(reinterpret_cast<void**>(&data_), grown * sizeof(T)), "cudaMallocHost");
      capacity_ = grown;
    }
    size_ = count;
    return data_;
  }
  std::span<const T> span() const { return {data_, size_}; }

 private:
  T* data_ = nullptr;
  size_t capacity_ = 0, size_ = 0;
};

}  // namespace troupe::cuda
