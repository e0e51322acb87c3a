#pragma once
// Builds GGUF v3 images in memory, for tests that need a model file without a download: tiny
// random models, and corrupt variants of them.
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/common/dtype.hpp"
#include "kernels/cpu/half.hpp"
#include "kernels/cpu/quant_blocks.hpp"

namespace troupe::test {

class GgufWriter {
 public:
  void add_string(const std::string& key, const std::string& value) {
    key_header(key, 8);
    put_string(meta_, value);
  }
  void add_u32(const std::string& key, uint32_t value) {
    key_header(key, 4);
    put(meta_, value);
  }
  void add_i32(const std::string& key, int32_t value) {
    key_header(key, 5);
    put(meta_, value);
  }
  void add_f32(const std::string& key, float value) {
    key_header(key, 6);
    put(meta_, value);
  }
  void add_bool(const std::string& key, bool value) {
    key_header(key, 7);
    put(meta_, static_cast<uint8_t>(value));
  }
  void add_string_array(const std::string& key, const std::vector<std::string>& values) {
    key_header(key, 9);
    put(meta_, uint32_t{8});
    put(meta_, static_cast<uint64_t>(values.size()));
    for (const auto& v : values) put_string(meta_, v);
  }
  void add_f32_array(const std::string& key, const std::vector<float>& values) {
    key_header(key, 9);
    put(meta_, uint32_t{6});
    put(meta_, static_cast<uint64_t>(values.size()));
    for (float v : values) put(meta_, v);
  }
  void add_i32_array(const std::string& key, const std::vector<int32_t>& values) {
    key_header(key, 9);
    put(meta_, uint32_t{5});
    put(meta_, static_cast<uint64_t>(values.size()));
    for (int32_t v : values) put(meta_, v);
  }

  // shape in GGUF order (shape[0] = row length); `bytes` must be the tensor's exact size.
  void add_tensor(const std::string& name, std::vector<int64_t> shape, DType type,
                  std::vector<std::byte> bytes) {
    put_string(infos_, name);
    put(infos_, static_cast<uint32_t>(shape.size()));
    for (auto d : shape) put(infos_, d);
    put(infos_, static_cast<uint32_t>(type));
    put(infos_, static_cast<uint64_t>(data_.size()));
    data_.insert(data_.end(), bytes.begin(), bytes.end());
    while (data_.size() % 32 != 0) data_.push_back(std::byte{0});
    ++tensor_count_;
  }

  std::vector<std::byte> bytes() const {
    std::vector<std::byte> out;
    put(out, uint32_t{0x46554747});
    put(out, uint32_t{3});
    put(out, tensor_count_);
    put(out, kv_count_);
    out.insert(out.end(), meta_.begin(), meta_.end());
    out.insert(out.end(), infos_.begin(), infos_.end());
    while (out.size() % 32 != 0) out.push_back(std::byte{0});
    out.insert(out.end(), data_.begin(), data_.end());
    return out;
  }

 private:
  template <typename T>
  static void put(std::vector<std::byte>& out, T value) {
    const auto* p = reinterpret_cast<const std::byte*>(&value);
    out.insert(out.end(), p, p + sizeof(T));
  }
  static void put_string(std::vector<std::byte>& out, const std::string& s) {
    put(out, static_cast<uint64_t>(s.size()));
    const auto* p = reinterpret_cast<const std::byte*>(s.data());
    out.insert(out.end(), p, p + s.size());
  }
  void key_header(const std::string& key, uint32_t type) {
    put_string(meta_, key);
    put(meta_, type);
    ++kv_count_;
  }

  std::vector<std::byte> meta_, infos_, data_;
  uint64_t tensor_count_ = 0, kv_count_ = 0;
};

// Random F32 values in [-scale, scale].
inline std::vector<float> random_floats(std::mt19937& rng, size_t n, float scale) {
  std::uniform_real_distribution<float> dist(-scale, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

inline std::vector<std::byte> as_bytes(const std::vector<float>& v) {
  std::vector<std::byte> out(v.size() * sizeof(float));
  std::memcpy(out.data(), v.data(), out.size());
  return out;
}

// Each float's upper 16 bits: a BF16 matrix (rounded toward zero, which any test data allows).
inline std::vector<std::byte> truncate_to_bf16(const std::vector<float>& v) {
  std::vector<std::byte> out(v.size() * 2);
  for (size_t i = 0; i < v.size(); ++i) {
    uint32_t bits;
    std::memcpy(&bits, &v[i], 4);
    const auto half = static_cast<uint16_t>(bits >> 16);
    std::memcpy(&out[2 * i], &half, 2);
  }
  return out;
}

// Quantizes rows of 32-multiples to Q4_1 / Q8_0 the simple way (min/max and absmax scaling):
// enough to make realistic quantized test weights.
inline std::vector<std::byte> quantize_q4_1(const std::vector<float>& v) {
  std::vector<std::byte> out;
  for (size_t b = 0; b < v.size() / kQK; ++b) {
    const float* x = v.data() + b * kQK;
    float lo = x[0], hi = x[0];
    for (int j = 0; j < kQK; ++j) lo = std::min(lo, x[j]), hi = std::max(hi, x[j]);
    const float d = (hi - lo) / 15.0f;
    const float inv = d != 0 ? 1.0f / d : 0.0f;
    BlockQ4_1 block{float_to_half(d), float_to_half(lo), {}};
    for (int j = 0; j < kQK / 2; ++j) {
      const int a = std::min(15, static_cast<int>((x[j] - lo) * inv + 0.5f));
      const int c = std::min(15, static_cast<int>((x[j + kQK / 2] - lo) * inv + 0.5f));
      block.qs[j] = static_cast<uint8_t>(a | (c << 4));
    }
    const auto* p = reinterpret_cast<const std::byte*>(&block);
    out.insert(out.end(), p, p + sizeof block);
  }
  return out;
}

inline std::vector<std::byte> quantize_q8_0(const std::vector<float>& v) {
  std::vector<std::byte> out;
  for (size_t b = 0; b < v.size() / kQK; ++b) {
    const float* x = v.data() + b * kQK;
    float amax = 0;
    for (int j = 0; j < kQK; ++j) amax = std::max(amax, std::abs(x[j]));
    const float d = amax / 127.0f;
    BlockQ8_0 block{float_to_half(d), {}};
    for (int j = 0; j < kQK; ++j) {
      block.qs[j] = static_cast<int8_t>(d != 0 ? std::lround(x[j] / d) : 0);
    }
    const auto* p = reinterpret_cast<const std::byte*>(&block);
    out.insert(out.end(), p, p + sizeof block);
  }
  return out;
}

}  // namespace troupe::test
