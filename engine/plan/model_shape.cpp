#include "engine/plan/model_shape.hpp"

#include <nlohmann/json.hpp>

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

Result<ModelShape> shape_of_hf_config(const std::string& json_text, const std::string& name,
                                      const std::string& weight_type) {
  const auto json = nlohmann::json::parse(json_text, nullptr, false);
  if (!json.is_object()) return make_error(name + " is not a JSON object");
  auto integer = [&](const char* key, int64_t fallback) -> Result<int64_t> {
    if (!json.contains(key)) {
      if (fallback >= 0) return fallback;
      return make_error(name + " has no '" + key + "'");
    }
    const auto& v = json[key];
    if (!v.is_number_integer() || v.get<int64_t>() <= 0)
      return make_error(name + ": '" + key + "' must be a positive integer");
    return v.get<int64_t>();
  };
  auto hidden = integer("hidden_size", -1);
  auto layers = integer("num_hidden_layers", -1);
  auto heads = integer("num_attention_heads", -1);
  auto intermediate = integer("intermediate_size", -1);
  auto vocab = integer("vocab_size", -1);
  for (const auto* r : {&hidden, &layers, &heads, &intermediate, &vocab})
    if (!*r) return r->error();
  auto kv_heads = integer("num_key_value_heads", *heads);
  auto head_dim = integer("head_dim", *hidden / *heads);
  auto context = integer("max_position_embeddings", 0);
  for (const auto* r : {&kv_heads, &head_dim, &context})
    if (!*r) return r->error();
  const bool tied = json.value("tie_word_embeddings", false);
  ModelShape shape;
  shape.name = name;
  shape.layers = static_cast<int>(*layers);
  shape.kv_heads = static_cast<int>(*kv_heads);
  shape.heads = static_cast<int>(*heads);
  shape.head_dim = static_cast<int>(*head_dim);
  shape.context_length = static_cast<int>(*context);
  // A Llama-style decoder: attention (Q and O over all heads, K and V over the KV heads), a
  // gated MLP of three matrices, two norms per layer; the embeddings, a final norm, and an
  // output matrix unless tied to the embeddings.
  const int64_t h = *hidden;
  const int64_t per_layer = h * (*heads * *head_dim) * 2 + h * (*kv_heads * *head_dim) * 2 +
                            3 * h * *intermediate + 2 * h;
  shape.parameters = *layers * per_layer + *vocab * h * (tied ? 1 : 2) + h;
  std::string type = weight_type;
  if (type.empty()) {
    const std::string dtype = json.value("torch_dtype", std::string("bfloat16"));
    type = dtype == "float32" ? "F32" : dtype == "float16" ? "F16" : "BF16";
  }
  const auto bits = bits_per_weight(type);
  if (!bits) return make_error("unknown weight type '" + type + "'");
  shape.weight_type = type;
  shape.weight_bytes = static_cast<int64_t>(static_cast<double>(shape.parameters) * *bits / 8);
  return shape;
}

}  // namespace troupe::plan
