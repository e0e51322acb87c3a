#include "engine/model/model_weights.hpp"

#include <cstring>

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
    return WeightMatrix{t->type, rows, cols, t->data.data()};
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

}  // namespace

Result<ModelWeights> load_model_weights(std::shared_ptr<const gguf::File> file, ModelConfig& c) {
  ModelWeights w;
  w.file = file;
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

  w.layers.resize(static_cast<size_t>(c.layers));
  for (int i = 0; i < c.layers; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    LayerWeights& l = w.layers[static_cast<size_t>(i)];
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
  }
#undef TROUPE_TRY_ASSIGN
  const auto pack = [&w](WeightMatrix& m) {
    if (!can_pack_rows(m.type, m.rows, m.cols)) return;
    w.packed.push_back(std::make_shared<const PackedRows>(m.type, m.rows, m.cols, m.data));
    m.packed = w.packed.back().get();
  };
  for (LayerWeights& l : w.layers) {
    for (WeightMatrix* m : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down}) pack(*m);
  }
  pack(w.output);
  return w;
}

int64_t weight_bytes_per_step(const ModelWeights& weights) {
  auto bytes = [](const WeightMatrix& w) { return w.rows * w.row_stride(); };
  int64_t total = bytes(weights.output);
  for (const LayerWeights& l : weights.layers) {
    for (const WeightMatrix* w : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down}) {
      total += bytes(*w);
    }
  }
  return total;
}

}  // namespace troupe
