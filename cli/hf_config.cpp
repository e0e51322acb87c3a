#include "cli/hf_config.hpp"

#include <nlohmann/json.hpp>

namespace troupe::cli {

Result<plan::ModelShape> shape_of_hf_config(const std::string& json_text, const std::string& name,
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
  std::string type = weight_type;
  if (type.empty()) {
    const std::string dtype = json.value("torch_dtype", std::string("bfloat16"));
    type = dtype == "float32" ? "F32" : dtype == "float16" ? "F16" : "BF16";
  }
  return plan::shape_of_decoder({*hidden, *layers, *heads, *kv_heads, *head_dim, *intermediate,
                                 *vocab, *context, json.value("tie_word_embeddings", false)},
                                name, type);
}

}  // namespace troupe::cli
