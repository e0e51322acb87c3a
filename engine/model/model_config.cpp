#include "engine/model/model_config.hpp"

namespace troupe {
namespace {

// Reads "<arch>.<key>" as a positive int, or `fallback` when absent (fallback < 0: required).
Result<int> positive_int(const gguf::File& file, const std::string& arch, const std::string& key,
                         int fallback = -1) {
  const std::string full = arch + "." + key;
  auto v = file.get_int(full);
  if (!v) {
    if (file.find(full)) return make_error("model metadata '" + full + "' is not an integer");
    if (fallback >= 0) return fallback;
    return make_error("model metadata '" + full + "' is missing");
  }
  if (*v <= 0 || *v > (int64_t{1} << 30)) {
    return make_error("model metadata '" + full + "' has an invalid value " + std::to_string(*v));
  }
  return static_cast<int>(*v);
}

}  // namespace

Result<ModelConfig> read_model_config(const gguf::File& file) {
  ModelConfig c;
  auto arch = file.get_string("general.architecture");
  if (!arch) return make_error("model metadata 'general.architecture' is missing");
  c.architecture_name = *arch;
  if (*arch == "llama") {
    c.architecture = Architecture::Llama;
    c.rope.style = RopeStyle::Normal;
  } else if (*arch == "qwen2") {
    c.architecture = Architecture::Qwen2;
    c.rope.style = RopeStyle::NeoX;
    c.attention_bias = true;
  } else {
    return make_error("model architecture '" + *arch +
                      "' is not supported (supported: llama, qwen2)");
  }
  c.name = file.get_string("general.name").value_or(*arch);

  auto read = [&](const char* key, int& out, int fallback = -1) -> Status {
    auto v = positive_int(file, *arch, key, fallback);
    if (!v) return v.error();
    out = *v;
    return Ok{};
  };
  for (auto status :
       {read("block_count", c.layers), read("embedding_length", c.embedding_dim),
        read("feed_forward_length", c.feed_forward_dim), read("attention.head_count", c.heads),
        read("context_length", c.context_length)}) {
    if (!status) return status.error();
  }
  if (auto s = read("attention.head_count_kv", c.kv_heads, c.heads); !s) return s.error();
  if (c.heads % c.kv_heads != 0) {
    return make_error("model has " + std::to_string(c.heads) +
                      " attention heads, not a multiple of " + std::to_string(c.kv_heads) +
                      " KV heads");
  }
  if (auto s = read("attention.key_length", c.head_dim, c.embedding_dim / c.heads); !s) {
    return s.error();
  }
  if (c.head_dim % 2 != 0) return make_error("model head dimension must be even");
  if (auto s = read("rope.dimension_count", c.rope.rotary_dims, c.head_dim); !s) return s.error();
  if (c.rope.rotary_dims > c.head_dim || c.rope.rotary_dims % 2 != 0) {
    return make_error("model rope.dimension_count must be even and at most the head dimension");
  }
  if (auto eps = file.get_float(*arch + ".attention.layer_norm_rms_epsilon")) {
    c.rms_eps = static_cast<float>(*eps);
  }
  c.rope.freq_base =
      static_cast<float>(file.get_float(*arch + ".rope.freq_base").value_or(10000.0));

  const std::string scaling = file.get_string(*arch + ".rope.scaling.type").value_or("none");
  const double factor = file.get_float(*arch + ".rope.scaling.factor").value_or(1.0);
  if (scaling == "linear") {
    if (factor <= 0) return make_error("model rope.scaling.factor must be positive");
    c.rope.position_scale = static_cast<float>(1.0 / factor);
  } else if (scaling != "none" && !(scaling == "yarn" && factor == 1.0)) {
    return make_error("model rope scaling '" + scaling +
                      "' is not supported (supported: none, linear, llama3 frequency factors)");
  }

  // The vocabulary size: metadata when present, else the token list.
  if (auto v = file.get_int(*arch + ".vocab_size")) {
    c.vocab_size = static_cast<int>(*v);
  } else if (auto tokens = file.find("tokenizer.ggml.tokens"); tokens && tokens->as_array()) {
    c.vocab_size = static_cast<int>(tokens->as_array()->size());
  } else if (auto embd = file.find_tensor("token_embd.weight"); embd && embd->shape.size() == 2) {
    c.vocab_size = static_cast<int>(embd->shape[1]);
  }
  if (c.vocab_size <= 0) return make_error("model vocabulary size is missing");
  return c;
}

}  // namespace troupe
