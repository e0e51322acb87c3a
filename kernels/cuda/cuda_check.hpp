#pragma once
// CUDA runtime and cuBLAS calls that fail throw, naming the call: a forward pass either completes
// its step or reports why, and nothing downstream sees half-written results.
#include <cuda_runtime_api.h>

#include <stdexcept>
#include <string>

namespace troupe::cuda {

class CudaError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

inline void check(cudaError_t status, const char* what) {
  if (status != cudaSuccess) throw CudaError(std::string(what) + ": " + cudaGetErrorString(status));
}

// After a kernel launch: a bad configuration shows up here, a fault at the next synchronisation.
inline void check_launch(const char* kernel) {
  check(cudaGetLastError(), kernel);
}

}  // namespace troupe::cuda
