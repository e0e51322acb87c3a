// matmul over the weight matrices of SmolLM2-135M, through the plain rows and, where this build
// has the kernel, the VNNI-packed rows the model loader makes. Decode is 1 token; prefill
// batches are the larger counts, where each weight read serves several tokens.
#include <cstring>
#include <map>
#include <memory>
#include <string>

#include "bench/micro/common.hpp"
#include "kernels/cpu/half.hpp"
#include "kernels/cpu/matmul.hpp"

namespace troupe::micro {

namespace {

struct Shape {
  const char* role;
  DType type;
  int64_t rows, cols;
};

// gate/up (576 -> 1536), down (1536 -> 576) and the tied output matrix (576 -> vocabulary).
constexpr Shape kShapes[] = {
    {"ffn_up", DType::Q4_1, 1536, 576},
    {"ffn_down", DType::Q4_1, 576, 1536},
    {"output", DType::Q8_0, 49152, 576},
    {"ffn_up", DType::BF16, 1536,
     576},  // the same model's weights in BF16 (bench/peers/setup-vllm)
    {"ffn_down", DType::BF16, 576, 1536},
};

// Valid random blocks: small positive scales and small negative minimums (as a model's), random
// quantized values.
std::vector<std::byte> random_rows(const Shape& s) {
  const int64_t blocks = s.rows * s.cols / kQK;
  std::vector<std::byte> bytes(static_cast<size_t>(row_bytes(s.type, s.cols) * s.rows));
  std::uniform_real_distribution<float> scale(0.001f, 0.02f), min(-0.2f, 0.0f);
  std::uniform_int_distribution<int> byte(0, 255), int8(-127, 127);
  std::byte* at = bytes.data();
  if (s.type == DType::BF16) {
    std::normal_distribution<float> weight(0.0f, 0.05f);
    for (int64_t i = 0; i < s.rows * s.cols; ++i) {
      const float value = weight(rng());
      uint32_t bits;
      std::memcpy(&bits, &value, 4);
      const auto upper = static_cast<uint16_t>(bits >> 16);
      std::memcpy(at + 2 * i, &upper, 2);
    }
    return bytes;
  }
  for (int64_t b = 0; b < blocks; ++b) {
    if (s.type == DType::Q4_1) {
      BlockQ4_1 block{float_to_half(scale(rng())), float_to_half(min(rng())), {}};
      for (uint8_t& q : block.qs) q = static_cast<uint8_t>(byte(rng()));
      std::memcpy(at + b * sizeof block, &block, sizeof block);
    } else {
      BlockQ8_0 block{float_to_half(scale(rng())), {}};
      for (int8_t& q : block.qs) q = static_cast<int8_t>(int8(rng()));
      std::memcpy(at + b * sizeof block, &block, sizeof block);
    }
  }
  return bytes;
}

// Built on first use and kept: Google Benchmark calls a benchmark several times while it sizes
// the iteration count, and the 30 MB output matrix takes a while to fill.
struct Matrix {
  std::vector<std::byte> bytes;
  std::unique_ptr<PackedRows> packed;
  WeightMatrix plain;
};

const Matrix& matrix(const Shape& s) {
  static std::map<std::string, std::unique_ptr<Matrix>> built;
  auto& m = built[std::string(s.role) + std::string(dtype_name(s.type))];
  if (!m) {
    m = std::make_unique<Matrix>();
    m->bytes = random_rows(s);
    if (can_pack_rows(s.type, s.rows, s.cols)) {
      m->packed =
          std::make_unique<PackedRows>(dense_matrix(s.type, s.rows, s.cols, m->bytes.data()));
    }
    m->plain = dense_matrix(s.type, s.rows, s.cols, m->bytes.data());
  }
  return *m;
}

void bench_matmul(benchmark::State& state, const Shape& s, bool packed) {
  const Matrix& m = matrix(s);
  WeightMatrix w = m.plain;
  if (packed) w.packed = m.packed.get();
  const int64_t tokens = state.range(0);
  const std::vector<float> x = random_floats(tokens * s.cols);
  std::vector<float> y(static_cast<size_t>(tokens * s.rows));
  MatmulScratch scratch;
  ThreadPool& pool = bench_pool();
  // One untimed call sizes the scratch and wakes the pool, as a warm engine's pool would be.
  matmul(pool, w, x.data(), tokens, y.data(), scratch);

  const double seconds = timed_loop(state, [&] {
    matmul(pool, w, x.data(), tokens, y.data(), scratch);
    benchmark::DoNotOptimize(y.data());
  });
  // Weight bytes as stored in the model file (the packed copy is the same size, give or take
  // alignment); activations are a rounding error beside them.
  const double bytes = static_cast<double>(w.bytes());
  const double flops = 2.0 * static_cast<double>(s.rows * s.cols * tokens);
  set_kernel_counters(state, bytes, flops, seconds);
}

}  // namespace

void register_matmul_benchmarks() {
  for (const Shape& s : kShapes) {
    for (bool packed : {false, true}) {
      if (packed && !can_pack_rows(s.type, s.rows, s.cols)) continue;
      const std::string name = std::string("matmul/") + s.role + "_" +
                               std::string(dtype_name(s.type)) + "_" + std::to_string(s.rows) +
                               "x" + std::to_string(s.cols) + (packed ? "/packed" : "/plain");
      benchmark::RegisterBenchmark(
          name.c_str(), [&s, packed](benchmark::State& state) { bench_matmul(state, s, packed); })
          ->ArgName("tokens")
          ->Arg(1)
          ->Arg(8)
          ->Arg(32)
          ->Arg(128)
          ->UseManualTime()
          ->Unit(benchmark::kMicrosecond);
    }
  }
}

}  // namespace troupe::micro
