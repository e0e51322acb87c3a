#include "engine/cuda/device_weights.hpp"

#include <cuda_runtime_api.h>

#include <map>

namespace troupe {
namespace {

constexpr int64_t kAlignment = 256;

int64_t aligned(int64_t bytes) {
  return (bytes + kAlignment - 1) / kAlignment * kAlignment;
}

// Walks every tensor of the model in one order, for sizing and for copying: fn(matrix) for
// matrices and fn(floats, count) for vectors; a null vector (an absent bias) is skipped.
template <typename MatrixFn, typename VectorFn>
void for_each_tensor(const ModelConfig& c, const ModelWeights& w, MatrixFn&& matrix,
                     VectorFn&& vector) {
  matrix(w.token_embedding);
  for (const LayerWeights& l : w.layers) {
    vector(l.attention_norm, c.embedding_dim);
    for (const WeightMatrix* m : {&l.wq, &l.wk, &l.wv, &l.wo}) matrix(*m);
    vector(l.bq, l.wq.rows);
    vector(l.bk, l.wk.rows);
    vector(l.bv, l.wv.rows);
    vector(l.ffn_norm, c.embedding_dim);
    for (const WeightMatrix* m : {&l.w_gate, &l.w_up, &l.w_down}) matrix(*m);
  }
  vector(w.output_norm, c.embedding_dim);
  matrix(w.output);
}

// Places each distinct tensor (by its host address) at an offset of the device allocation.
struct Layout {
  std::map<const void*, int64_t> offsets;
  int64_t bytes = 0;

  void place(const void* host, int64_t size) {
    if (host == nullptr || offsets.count(host)) return;
    offsets[host] = bytes;
    bytes += aligned(size);
  }
};

Layout layout_of(const ModelConfig& config, const ModelWeights& weights) {
  Layout layout;
  for_each_tensor(
      config, weights, [&](const WeightMatrix& m) { layout.place(m.data, m.bytes()); },
      [&](const float* v, int64_t n) { layout.place(v, n * static_cast<int64_t>(sizeof(float))); });
  return layout;
}

}  // namespace

int64_t device_weight_bytes(const ModelConfig& config, const ModelWeights& weights) {
  return layout_of(config, weights).bytes;
}

DeviceWeights upload_weights(const ModelConfig& config, const ModelWeights& weights) {
  const Layout layout = layout_of(config, weights);
  DeviceWeights d;
  d.memory.resize(static_cast<size_t>(layout.bytes));
  uint8_t* base = d.memory.data();
  const auto device_matrix = [&](const WeightMatrix& m) {
    const int64_t packed_row = row_bytes(m.type, m.cols);
    return cuda::DeviceMatrix{m.type, m.rows, m.cols, packed_row, base + layout.offsets.at(m.data)};
  };
  const auto device_vector = [&](const float* v) {
    return v ? reinterpret_cast<const float*>(base + layout.offsets.at(v)) : nullptr;
  };
  std::map<const void*, bool> copied;
  for_each_tensor(
      config, weights,
      [&](const WeightMatrix& m) {
        if (copied[m.data]) return;
        copied[m.data] = true;
        // A column slice's rows are apart by the whole row: packed on the device.
        const int64_t packed_row = row_bytes(m.type, m.cols);
        cuda::check(
            cudaMemcpy2D(base + layout.offsets.at(m.data), static_cast<size_t>(packed_row), m.data,
                         static_cast<size_t>(m.row_stride), static_cast<size_t>(packed_row),
                         static_cast<size_t>(m.rows), cudaMemcpyHostToDevice),
            "uploading weights");
      },
      [&](const float* v, int64_t n) {
        if (v == nullptr || copied[v]) return;
        copied[v] = true;
        cuda::check(cudaMemcpy(base + layout.offsets.at(v), v,
                               static_cast<size_t>(n) * sizeof(float), cudaMemcpyHostToDevice),
                    "uploading weights");
      });
  // Copies from pageable memory may return before they land; the forward pass's own stream does
  // not wait for the default one.
  cuda::check(cudaDeviceSynchronize(), "uploading weights");
  d.token_embedding = device_matrix(weights.token_embedding);
  d.output = device_matrix(weights.output);
  d.output_norm = device_vector(weights.output_norm);
  for (const LayerWeights& l : weights.layers) {
    d.layers.push_back(DeviceLayer{device_vector(l.attention_norm), device_matrix(l.wq),
                                   device_matrix(l.wk), device_matrix(l.wv), device_matrix(l.wo),
                                   device_vector(l.bq), device_vector(l.bk), device_vector(l.bv),
                                   device_vector(l.ffn_norm), device_matrix(l.w_gate),
                                   device_matrix(l.w_up), device_matrix(l.w_down)});
  }
  return d;
}

}  // namespace troupe
