#include "engine/model/model_weights.hpp"

#include <algorithm>
#include <cstring>

#include "kernels/cpu/packed_rows.hpp"

namespace troupe {
namespace {

class TensorFinder {
 public:
  explicit TensorFinder(const gguf::File& file) : file_(file) {}

  // A matrix of `rows` x `cols` in any supported type.
  Result<WeightMatrix> matrix(const std::string& name, int64_t rows, int64_t cols) const {
    const gguf::TensorInfo* t = file_.find_tensor(name);
    if (!t) return missing(name);
    if (t->shape.size() != 2 || t->shape[0] != cols || t->shape[1] != rows) {
      return wrong_shape(*t, "[" + std::to_string(cols) + ", " + std::to_string(rows) + "]");
    }
    return dense_matrix(t->type, rows, cols, t->data.data());
  }

  // An F32 vector of `n` values; optional ones return nullptr when absent.
  Result<const float*> vector(const std::string& name, int64_t n, bool optional = false) const {
    const gguf::TensorInfo* t = file_.find_tensor(name);
    if (!t) {
      if (optional) return static_cast<const float*>(nullptr);
      return missing(name);
    }
    if (t->elements() != n) return wrong_shape(*t, "[" + std::to_string(n) + "]");
    if (t->type != DType::F32) {
      return make_error("model tensor '" + name + "' must be F32, found " +
                        std::string(dtype_name(t->type)));
    }
    return reinterpret_cast<const float*>(t->data.data());
  }

 private:
  static Error missing(const std::string& name) {
    return make_error("model tensor '" + name + "' is missing");
  }
  static Error wrong_shape(const gguf::TensorInfo& t, const std::string& expected) {
    std::string shape;
    for (auto d : t.shape) shape += (shape.empty() ? "" : ", ") + std::to_string(d);
    return make_error("model tensor '" + t.name + "' has shape [" + shape + "], expected " +
                      expected);
  }
  const gguf::File& file_;
};

// A column slice must fall on the stored type's quantization blocks.
Status check_columns(const WeightMatrix& m, const std::string& name, const ShardRange& range) {
  const int64_t block = traits(m.type).block_elements;
  if (range.first % block == 0 && range.count % block == 0) return Ok{};
  return make_error("model tensor '" + name + "' is stored in " + std::string(dtype_name(m.type)) +
                    " blocks of " + std::to_string(block) + " values, which a tensor-parallel " +
                    "slice of " + std::to_string(range.count) + " columns would cut");
}

const float* slice(const float* bias, const ShardRange& range) {
  return bias ? bias + range.first : nullptr;
}

// Replaces the layer's matrices with the rank's share (shard_spec.hpp says which way each is cut).
Status shard_layer(LayerWeights& l, const std::string& prefix, const ModelConfig& c,
                   const ShardSpec& shard) {
  const ShardRange q = shard_range(c.q_dim(), shard);
  const ShardRange kv_heads = kv_head_range(c, shard);
  const ShardRange kv{kv_heads.first * c.head_dim, kv_heads.count * c.head_dim};
  const ShardRange ff = shard_range(c.feed_forward_dim, shard);
  if (auto s = check_columns(l.wo, prefix + "attn_output.weight", q); !s) return s;
  if (auto s = check_columns(l.w_down, prefix + "ffn_down.weight", ff); !s) return s;
  l.wq = row_slice(l.wq, q.first, q.count);
  l.wk = row_slice(l.wk, kv.first, kv.count);
  l.wv = row_slice(l.wv, kv.first, kv.count);
  l.bq = slice(l.bq, q);
  l.bk = slice(l.bk, kv);
  l.bv = slice(l.bv, kv);
  l.wo = column_slice(l.wo, q.first, q.count);
  l.w_gate = row_slice(l.w_gate, ff.first, ff.count);
  l.w_up = row_slice(l.w_up, ff.first, ff.count);
  l.w_down = column_slice(l.w_down, ff.first, ff.count);
  return Ok{};
}

}  // namespace

Result<ModelWeights> load_model_weights(std::shared_ptr<const gguf::File> file, ModelConfig& c,
                                        const ShardSpec& shard, CpuPacking packing) {
  if (auto s = check_shard(c, shard); !s) return s.error();
  ModelWeights w;
  w.file = file;
  w.shard = shard;
  const TensorFinder find(*file);
  const int64_t d = c.embedding_dim;

#define TROUPE_TRY_ASSIGN(target, expr) \
  do {                                  \
    auto r = (expr);                    \
    if (!r) return r.error();           \
    target = *r;                        \
  } while (0)

  TROUPE_TRY_ASSIGN(w.token_embedding, find.matrix("token_embd.weight", c.vocab_size, d));
  TROUPE_TRY_ASSIGN(w.output_norm, find.vector("output_norm.weight", d));
  if (file->find_tensor("output.weight")) {
    TROUPE_TRY_ASSIGN(w.output, find.matrix("output.weight", c.vocab_size, d));
  } else {
    w.output = w.token_embedding;  // tied embeddings
  }
  if (const gguf::TensorInfo* f = file->find_tensor("rope_freqs.weight")) {
    const float* factors = nullptr;
    TROUPE_TRY_ASSIGN(factors, find.vector("rope_freqs.weight", c.rope.rotary_dims / 2));
    c.rope.frequency_factors.assign(factors, factors + f->elements());
  }

  // Grown as layers are found, not sized from block_count: a corrupt count (up to 2^30) would
  // allocate hundreds of gigabytes before the first missing layer is noticed.
  w.layers.reserve(std::min(static_cast<size_t>(c.layers), file->tensors().size()));
  for (int i = 0; i < c.layers; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    LayerWeights& l = w.layers.emplace_back();
    TROUPE_TRY_ASSIGN(l.attention_norm, find.vector(p + "attn_norm.weight", d));
    TROUPE_TRY_ASSIGN(l.wq, find.matrix(p + "attn_q.weight", c.q_dim(), d));
    TROUPE_TRY_ASSIGN(l.wk, find.matrix(p + "attn_k.weight", c.kv_dim(), d));
    TROUPE_TRY_ASSIGN(l.wv, find.matrix(p + "attn_v.weight", c.kv_dim(), d));
    TROUPE_TRY_ASSIGN(l.wo, find.matrix(p + "attn_output.weight", d, c.q_dim()));
    TROUPE_TRY_ASSIGN(l.bq, find.vector(p + "attn_q.bias", c.q_dim(), !c.attention_bias));
    TROUPE_TRY_ASSIGN(l.bk, find.vector(p + "attn_k.bias", c.kv_dim(), !c.attention_bias));
    TROUPE_TRY_ASSIGN(l.bv, find.vector(p + "attn_v.bias", c.kv_dim(), !c.attention_bias));
    TROUPE_TRY_ASSIGN(l.ffn_norm, find.vector(p + "ffn_norm.weight", d));
    TROUPE_TRY_ASSIGN(l.w_gate, find.matrix(p + "ffn_gate.weight", c.feed_forward_dim, d));
    TROUPE_TRY_ASSIGN(l.w_up, find.matrix(p + "ffn_up.weight", c.feed_forward_dim, d));
    TROUPE_TRY_ASSIGN(l.w_down, find.matrix(p + "ffn_down.weight", d, c.feed_forward_dim));
    if (!shard.whole()) {
      if (auto s = shard_layer(l, p, c, shard); !s) return s.error();
    }
  }
  const ShardRange vocabulary = output_rows(c.vocab_size, shard);
  w.output = row_slice(w.output, vocabulary.first, vocabulary.count);
#undef TROUPE_TRY_ASSIGN
  std::vector<WeightMatrix*> to_pack;
  if (packing == CpuPacking::yes) {
    for_each_step_matrix(w, [&to_pack](WeightMatrix& m) {
      if (m.rows > 0 && can_pack_rows(m.type, m.rows, m.cols)) to_pack.push_back(&m);
    });
  }
  if (to_pack.empty()) return w;
  // Every packed matrix in one arena of huge pages (huge_page_arena.hpp).
  size_t bytes = 0;
  for (const WeightMatrix* m : to_pack) bytes += PackedRows::storage_bytes(*m);
  const auto arena = std::make_shared<HugePageArena>(bytes);
  for (WeightMatrix* m : to_pack) {
    w.packed.push_back(std::make_shared<const PackedRows>(*m, arena));
    m->packed = w.packed.back().get();
  }
  return w;
}

std::vector<std::span<const std::byte>> weight_memory_per_step(const ModelWeights& weights) {
  std::vector<std::span<const std::byte>> ranges;
  for_each_step_matrix(weights, [&ranges](const WeightMatrix& w) {
    if (w.packed) return ranges.push_back(w.packed->bytes());
    const auto row = static_cast<size_t>(row_bytes(w.type, w.cols));
    if (w.row_stride == static_cast<int64_t>(row)) {
      return ranges.push_back({w.data, static_cast<size_t>(w.bytes())});
    }
    for (int64_t r = 0; r < w.rows; ++r) ranges.push_back({w.row(r), row});
  });
  return ranges;
}

int64_t weight_bytes_per_step(const ModelWeights& weights) {
  int64_t total = 0;
  for_each_step_matrix(weights, [&total](const WeightMatrix& w) { total += w.bytes(); });
  return total;
}

}  // namespace troupe
