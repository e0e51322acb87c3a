#pragma once
// A CUDA stream owned by one object: created non-blocking (it does not wait on the legacy default
// stream), synchronised and destroyed with its owner. Declare it before whatever queues work on
// it, so that it outlives them.
#include <cuda_runtime_api.h>

#include "kernels/cuda/cuda_check.hpp"

namespace troupe::cuda {

class CudaStream {
 public:
  CudaStream() {
    check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
  }
  CudaStream(const CudaStream&) = delete;
  CudaStream& operator=(const CudaStream&) = delete;
  ~CudaStream() {
    cudaStreamSynchronize(stream_);
    cudaStreamDestroy(stream_);
  }
  cudaStream_t get() const { return stream_; }

 private:
  cudaStream_t stream_ = nullptr;
};

}  // namespace troupe::cuda
