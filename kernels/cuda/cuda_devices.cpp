#include "kernels/cuda/cuda_devices.hpp"

#include <cuda_runtime_api.h>

namespace troupe {

CudaDevices cuda_devices() {
  CudaDevices found;
  const cudaError_t status = cudaGetDeviceCount(&found.count);
  if (status != cudaSuccess) {
    found.count = 0;
    found.error = std::string("cudaGetDeviceCount: ") + cudaGetErrorString(status);
  } else if (found.count == 0) {
    found.error = "cudaGetDeviceCount: 0";
  }
  return found;
}

}  // namespace troupe
