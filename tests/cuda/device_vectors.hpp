#pragma once
// Host vectors to and from device memory for the CUDA kernel tests, and the skip every test
// takes where no device is visible (CI): it says so and passes.
#include <cuda_runtime_api.h>
#include <catch2/catch.hpp>

#include <vector>

#include "kernels/cuda/cuda_devices.hpp"
#include "kernels/cuda/device_buffer.hpp"

namespace troupe::test {

// True where a device runs the test; false, with a warning naming why, where none is visible.
inline bool cuda_device_visible() {
  const CudaDevices found = cuda_devices();
  if (found.count == 0) WARN("no CUDA device visible (" << found.error << "): not run");
  return found.count > 0;
}

template <typename T>
cuda::DeviceBuffer<T> to_device(const std::vector<T>& host) {
  cuda::DeviceBuffer<T> d(host.size());
  cuda::check(cudaMemcpy(d.data(), host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice),
              "to_device");
  return d;
}

template <typename T>
std::vector<T> to_host(const cuda::DeviceBuffer<T>& d, size_t count) {
  std::vector<T> host(count);
  cuda::check(cudaDeviceSynchronize(), "the kernels");
  cuda::check(cudaMemcpy(host.data(), d.data(), count * sizeof(T), cudaMemcpyDeviceToHost),
              "to_host");
  return host;
}

}  // namespace troupe::test
