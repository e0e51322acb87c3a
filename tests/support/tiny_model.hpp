#pragma once
// A tiny random Llama- or Qwen2-architecture GGUF with a byte-level BPE vocabulary, built in
// memory: the tests run the whole engine on it without downloading a model.
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <unistd.h>

#include "engine/tokenizer/byte_level.hpp"
#include "tests/support/gguf_writer.hpp"

namespace troupe::test {

struct TinyModelOptions {
  std::string architecture = "llama";  // or "qwen2" (adds Q/K/V biases)
  int layers = 2;
  int embedding = 64;
  int heads = 4;
  int kv_heads = 2;
  int feed_forward = 96;
  int context = 256;
  uint32_t seed = 1;
  bool tied_output = true;
  bool float_matrices = false;  // every matrix F32: no quantization error in comparisons
  bool bf16_matrices = false;   // every matrix BF16 (the F32 values truncated)
  bool quantized_down = false;  // ffn_down Q4_1 as the others (F32 by default: a mixed model)
  int declared_layers = -1;     // block_count in the metadata when >= 0 (a corrupt file's)
};

// 256 byte tokens, a few merges, then <|endoftext|> (EOS) as a control token.
inline std::vector<std::string> tiny_vocab_tokens() {
  std::vector<std::string> tokens;
  for (int b = 0; b < 256; ++b) tokens.emplace_back(byte_level::encode(static_cast<uint8_t>(b)));
  for (const char* merged : {"Ġt", "he", "Ġthe", "in", "Ġa", "er", "on", "Ġo"}) {
    tokens.emplace_back(merged);
  }
  tokens.emplace_back("<|endoftext|>");
  return tokens;
}

inline std::vector<std::byte> tiny_model_gguf(const TinyModelOptions& o = {}) {
  std::mt19937 rng(o.seed);
  const auto tokens = tiny_vocab_tokens();
  const auto vocab = static_cast<int64_t>(tokens.size());
  const int64_t d = o.embedding, head_dim = o.embedding / o.heads, kvd = head_dim * o.kv_heads;
  const int64_t ff = o.feed_forward;
  const std::string a = o.architecture;

  GgufWriter w;
  w.add_string("general.architecture", a);
  w.add_string("general.name", "tiny-" + a);
  w.add_u32(a + ".block_count",
            static_cast<uint32_t>(o.declared_layers >= 0 ? o.declared_layers : o.layers));
  w.add_u32(a + ".context_length", static_cast<uint32_t>(o.context));
  w.add_u32(a + ".embedding_length", static_cast<uint32_t>(d));
  w.add_u32(a + ".feed_forward_length", static_cast<uint32_t>(ff));
  w.add_u32(a + ".attention.head_count", static_cast<uint32_t>(o.heads));
  w.add_u32(a + ".attention.head_count_kv", static_cast<uint32_t>(o.kv_heads));
  w.add_f32(a + ".rope.freq_base", 10000.0f);
  w.add_f32(a + ".attention.layer_norm_rms_epsilon", 1e-5f);
  w.add_string("tokenizer.ggml.model", "gpt2");
  w.add_string("tokenizer.ggml.pre", "gpt-2");
  w.add_string_array("tokenizer.ggml.tokens", tokens);
  std::vector<int32_t> types(tokens.size(), 1);
  types.back() = 3;
  w.add_i32_array("tokenizer.ggml.token_type", types);
  w.add_string_array("tokenizer.ggml.merges",
                     {"Ġ t", "h e", "Ġt he", "i n", "Ġ a", "e r", "o n", "Ġ o"});
  w.add_u32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(vocab - 1));
  w.add_u32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(vocab - 1));
  w.add_bool("tokenizer.ggml.add_bos_token", false);
  w.add_string("tokenizer.chat_template",
               "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
               "{% if add_generation_prompt %}<|assistant|>{% endif %}");

  auto matrix = [&](const std::string& name, int64_t rows, int64_t cols, DType type) {
    if (o.float_matrices) type = DType::F32;
    if (o.bf16_matrices) type = DType::BF16;
    const auto values = random_floats(rng, static_cast<size_t>(rows * cols), 0.5f);
    auto bytes = type == DType::Q4_1   ? quantize_q4_1(values)
                 : type == DType::Q8_0 ? quantize_q8_0(values)
                 : type == DType::BF16 ? truncate_to_bf16(values)
                                       : as_bytes(values);
    w.add_tensor(name, {cols, rows}, type, std::move(bytes));
  };
  auto norm = [&](const std::string& name, int64_t n) {
    std::vector<float> v = random_floats(rng, static_cast<size_t>(n), 0.2f);
    for (auto& x : v) x += 1.0f;
    w.add_tensor(name, {n}, DType::F32, as_bytes(v));
  };
  matrix("token_embd.weight", vocab, d, DType::Q8_0);
  norm("output_norm.weight", d);
  if (!o.tied_output) matrix("output.weight", vocab, d, DType::Q4_1);
  for (int l = 0; l < o.layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    norm(p + "attn_norm.weight", d);
    matrix(p + "attn_q.weight", d, d, DType::Q4_1);
    matrix(p + "attn_k.weight", kvd, d, DType::Q4_1);
    matrix(p + "attn_v.weight", kvd, d, DType::Q4_1);
    matrix(p + "attn_output.weight", d, d, DType::Q4_1);
    if (a == "qwen2") {
      w.add_tensor(p + "attn_q.bias", {d}, DType::F32, as_bytes(random_floats(rng, d, 0.3f)));
      w.add_tensor(p + "attn_k.bias", {kvd}, DType::F32, as_bytes(random_floats(rng, kvd, 0.3f)));
      w.add_tensor(p + "attn_v.bias", {kvd}, DType::F32, as_bytes(random_floats(rng, kvd, 0.3f)));
    }
    norm(p + "ffn_norm.weight", d);
    matrix(p + "ffn_gate.weight", ff, d, DType::Q4_1);
    matrix(p + "ffn_up.weight", ff, d, DType::Q4_1);
    matrix(p + "ffn_down.weight", d, ff, o.quantized_down ? DType::Q4_1 : DType::F32);
  }
  return w.bytes();
}

// Writes the tiny model to a file under the temp directory and returns its path. The file is
// written aside and renamed into place: tests in other processes may have the same name mapped,
// and truncating a mapped file would kill them with SIGBUS.
inline std::string write_tiny_model(const std::string& name, const TinyModelOptions& o = {}) {
  const auto path = std::filesystem::temp_directory_path() / ("troupe-test-" + name + ".gguf");
  auto aside = path;
  aside += ".tmp-" + std::to_string(::getpid());
  const auto bytes = tiny_model_gguf(o);
  std::ofstream(aside, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()),
             static_cast<std::streamsize>(bytes.size()));
  std::filesystem::rename(aside, path);
  return path.string();
}

}  // namespace troupe::test
