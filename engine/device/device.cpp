#include "engine/device/device.hpp"

#ifdef TROUPE_HAVE_CUDA
#include "kernels/cuda/cuda_devices.hpp"
#endif

namespace troupe {

std::optional<Device> parse_device(std::string_view name) {
  if (name == "cpu") return Device::cpu;
  if (name == "cuda") return Device::cuda;
  return std::nullopt;
}

std::string_view device_name(Device device) {
  return device == Device::cuda ? "cuda" : "cpu";
}

Status check_device(Device device) {
  if (device == Device::cpu) return Ok{};
#ifndef TROUPE_HAVE_CUDA
  return make_error(
      "--device cuda: this troupe was built without CUDA (no nvcc when it was configured); "
      "use --device cpu");
#else
  const CudaDevices found = cuda_devices();
  if (found.count == 0) {
    return make_error("--device cuda: no CUDA device is visible (" + found.error +
                      "); use --device cpu");
  }
  return Ok{};
#endif
}

}  // namespace troupe
