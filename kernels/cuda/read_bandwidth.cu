#include <cuda_runtime_api.h>

#include <algorithm>

#include "kernels/cuda/device_buffer.hpp"
#include "kernels/cuda/read_bandwidth.hpp"

namespace troupe::cuda {
namespace {

// Every 16-byte word read once, folded into one word per thread so nothing is optimised away.
__global__ void read_kernel(const uint4* data, int64_t words, uint32_t* sink) {
  uint32_t folded = 0;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < words;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const uint4 w = data[i];
    folded ^= w.x ^ w.y ^ w.z ^ w.w;
  }
  if (folded == 0x9e3779b9u) sink[0] = folded;  // almost never: a store the compiler must keep
}

}  // namespace

double measure_read_bandwidth(int64_t bytes, int repeats) {
  DeviceBuffer<uint4> data(static_cast<size_t>(bytes / 16));
  DeviceBuffer<uint32_t> sink(1);
  check(cudaMemset(data.data(), 1, data.bytes()), "cudaMemset");
  int device = 0, processors = 0;
  check(cudaGetDevice(&device), "cudaGetDevice");
  check(cudaDeviceGetAttribute(&processors, cudaDevAttrMultiProcessorCount, device), "attribute");
  cudaEvent_t start, stop;
  check(cudaEventCreate(&start), "cudaEventCreate");
  check(cudaEventCreate(&stop), "cudaEventCreate");
  float best_ms = 1e30f;
  for (int r = 0; r < repeats + 1; ++r) {  // the first is a warm-up
    check(cudaEventRecord(start), "cudaEventRecord");
    read_kernel<<<processors * 8, 512>>>(data.data(), static_cast<int64_t>(data.size()),
                                         sink.data());
    check(cudaEventRecord(stop), "cudaEventRecord");
    check(cudaEventSynchronize(stop), "the read kernel");
    float ms = 0;
    check(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime");
    if (r > 0) best_ms = std::min(best_ms, ms);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  return static_cast<double>(data.bytes()) / (best_ms / 1e3);
}

}  // namespace troupe::cuda
