#pragma once
// The CUDA devices this process sees, through the CUDA runtime (built only with CUDA).
#include <string>

namespace troupe {

struct CudaDevices {
  int count = 0;
  std::string error;  // the runtime's message when it found none
};

CudaDevices cuda_devices();

}  // namespace troupe
