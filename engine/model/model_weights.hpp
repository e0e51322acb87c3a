#pragma once
// Views of a model's tensors inside the mapped GGUF file, which owns the bytes: the whole model,
// or one tensor-parallel rank's slices of it (shard_spec.hpp). Matrices stay in their stored
// type; those the build's fastest CPU kernel takes (Q4_1, Q8_0 with AVX-512 VNNI) are also
// repacked once into its layout (kernels/cpu/packed_rows), which the weights own.
#include <memory>
#include <span>
#include <vector>

#include "engine/gguf/gguf_file.hpp"
#include "engine/model/model_config.hpp"
#include "engine/model/shard_spec.hpp"
#include "engine/result.hpp"
#include "kernels/common/weight_matrix.hpp"

namespace troupe {

struct LayerWeights {
  const float* attention_norm = nullptr;
  WeightMatrix wq, wk, wv, wo;
  const float* bq = nullptr;  // Qwen2 only
  const float* bk = nullptr;
  const float* bv = nullptr;
  const float* ffn_norm = nullptr;
  WeightMatrix w_gate, w_up, w_down;
};

struct ModelWeights {
  std::shared_ptr<const gguf::File> file;  // keeps the mapping alive
  ShardSpec shard;                         // which rank's slices the layers hold
  WeightMatrix token_embedding;            // [vocab][embedding_dim]
  std::vector<LayerWeights> layers;
  const float* output_norm = nullptr;
  // The rank's rows of the output matrix (shard_spec.hpp's output_rows); the token embedding
  // itself when tied.
  WeightMatrix output;
  std::vector<std::shared_ptr<const PackedRows>> packed;  // what the matrices' `packed` point into
};

// Whether the loader also repacks matrices into the CPU kernels' layout: not for a GPU pass,
// which uploads the bytes as stored.
enum class CpuPacking { yes, no };

// Finds and shape-checks every tensor the config needs, then keeps `shard`'s slices of the
// layers; fills config.rope.frequency_factors from `rope_freqs.weight` when the file has it.
// The config keeps the whole model's shape.
Result<ModelWeights> load_model_weights(std::shared_ptr<const gguf::File> file, ModelConfig& config,
                                        const ShardSpec& shard = {},
                                        CpuPacking packing = CpuPacking::yes);

// fn(matrix) for every matrix a decode step reads, in the order it reads them: each layer's
// seven, then the output matrix. `Weights` is ModelWeights, const or not.
template <typename Weights, typename Fn>
void for_each_step_matrix(Weights& weights, Fn&& fn) {
  for (auto& l : weights.layers) {
    for (auto* m : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down}) fn(*m);
  }
  fn(weights.output);
}

// Bytes of weights one decode step reads from memory, however many tokens it computes: every
// layer's matrices and the output matrix as stored (the roofline of single-stream decode is
// memory bandwidth divided by this).
int64_t weight_bytes_per_step(const ModelWeights& weights);

// The memory a decode step's products read, matrix by matrix: a packed matrix's packed bytes,
// another's rows where they lie (one range per row for a column slice).
std::vector<std::span<const std::byte>> weight_memory_per_step(const ModelWeights& weights);

}  // namespace troupe
