#include "engine/plan/model_shape.hpp"

#include <map>

#include "engine/model/model_config.hpp"
#include "kernels/common/dtype.hpp"

namespace troupe::plan {

Result<ModelShape> shape_of_gguf(const gguf::File& file) {
  auto config = read_model_config(file);
  if (!config) return config.error();
  ModelShape shape;
  shape.name = config->name.empty() ? config->architecture_name : config->name;
  shape.layers = config->layers;
  shape.kv_heads = config->kv_heads;
  shape.head_dim = config->head_dim;
  shape.heads = config->heads;
  shape.feed_forward = config->feed_forward_dim;
  shape.context_length = config->context_length;
  std::map<std::string, int64_t> bytes_by_type;  // of the matrices: norms are F32 everywhere
  for (const gguf::TensorInfo& tensor : file.tensors()) {
    shape.parameters += tensor.elements();
    shape.weight_bytes += static_cast<int64_t>(tensor.data.size());
    if (tensor.shape.size() > 1)
      bytes_by_type[std::string(dtype_name(tensor.type))] +=
          static_cast<int64_t>(tensor.data.size());
  }
  std::string most;
  for (const auto& [type, bytes] : bytes_by_type)
    if (most.empty() || bytes > bytes_by_type[most]) most = type;
  shape.weight_type = bytes_by_type.size() <= 1 ? most : "mostly " + most;
  return shape;
}

Result<ModelShape> shape_of_decoder(const DecoderDims& d, const std::string& name,
                                    const std::string& weight_type) {
  const auto bits = bits_per_weight(weight_type);
  if (!bits) return make_error("unknown weight type '" + weight_type + "'");
  ModelShape shape;
  shape.name = name;
  shape.layers = static_cast<int>(d.layers);
  shape.kv_heads = static_cast<int>(d.kv_heads);
  shape.heads = static_cast<int>(d.heads);
  shape.feed_forward = d.intermediate;
  shape.head_dim = static_cast<int>(d.head_dim);
  shape.context_length = static_cast<int>(d.context_length);
  // A Llama-style decoder: attention (Q and O over all heads, K and V over the KV heads), a
  // gated MLP of three matrices, two norms per layer; the embeddings, a final norm, and an
  // output matrix unless tied to the embeddings.
  const int64_t h = d.hidden;
  const int64_t per_layer = h * (d.heads * d.head_dim) * 2 + h * (d.kv_heads * d.head_dim) * 2 +
                            3 * h * d.intermediate + 2 * h;
  shape.parameters = d.layers * per_layer + d.vocab * h * (d.tied_embeddings ? 1 : 2) + h;
  shape.weight_type = weight_type;
  shape.weight_bytes = static_cast<int64_t>(static_cast<double>(shape.parameters) * *bits / 8);
  return shape;
}

}  // namespace troupe::plan
