#pragma once
// Calls fn.template operator()<T>() with a matrix's weight type as a template argument, so that
// each kernel is compiled once per type with its unit decoding inlined. Host code only (the
// unit tests use it without CUDA).
#include <stdexcept>
#include <string>

#include "kernels/common/dtype.hpp"

namespace troupe::cuda {

template <typename Fn>
void with_weight_type(DType type, Fn&& fn) {
  switch (type) {
    case DType::F32:
      return fn.template operator()<DType::F32>();
    case DType::F16:
      return fn.template operator()<DType::F16>();
    case DType::BF16:
      return fn.template operator()<DType::BF16>();
    case DType::Q4_0:
      return fn.template operator()<DType::Q4_0>();
    case DType::Q4_1:
      return fn.template operator()<DType::Q4_1>();
    case DType::Q8_0:
      return fn.template operator()<DType::Q8_0>();
    case DType::Q4_K:
      return fn.template operator()<DType::Q4_K>();
    case DType::Q5_K:
      return fn.template operator()<DType::Q5_K>();
    case DType::Q6_K:
      return fn.template operator()<DType::Q6_K>();
  }
  throw std::invalid_argument("CUDA kernels: no kernel for weight type " +
                              std::string(dtype_name(type)));
}

}  // namespace troupe::cuda
