// The CUDA backend's figures, for scripts/gpu-check on a lent GPU:
//   troupe-gpu-bench bandwidth
//   troupe-gpu-bench random-model OUT [--layers 32 --embedding 4096 --heads 32 --kv-heads 8
//                                      --feed-forward 14336 --vocab 128256 --type Q4_K]
//   troupe-gpu-bench decode MODEL [--concurrent 1 --prompt 128 --tokens 128 --graphs 1]
// Each prints one JSON object. Random models have random bytes with small finite scales in
// every block: decode speed does not depend on the values (correctness is checked on the real
// model by the tests). Decode runs the forward pass directly: C prompts prefilled together, then
// `tokens` steps of C one-token chunks, logits back to the host each step as a server's are.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/cuda/cuda_forward_pass.hpp"
#include "engine/gguf/gguf_file.hpp"
#include "engine/model/model_config.hpp"
#include "engine/model/model_weights.hpp"
#include "kernels/cpu/half.hpp"
#include "kernels/cuda/read_bandwidth.hpp"
#include "tests/support/gguf_writer.hpp"
#include "tests/support/random_weights.hpp"

using namespace troupe;

namespace {

[[noreturn]] void fail(const std::string& why) {
  std::fprintf(stderr, "troupe-gpu-bench: %s\n", why.c_str());
  std::exit(2);
}

// --name value pairs after the positional arguments.
std::map<std::string, std::string> options(int argc, char** argv, int first) {
  std::map<std::string, std::string> o;
  for (int i = first; i < argc; i += 2) {
    if (std::strncmp(argv[i], "--", 2) != 0) fail(std::string("expected a --flag, got ") + argv[i]);
    if (i + 1 == argc) fail(std::string(argv[i]) + " needs a value");
    o[argv[i] + 2] = argv[i + 1];
  }
  return o;
}

int number(const std::map<std::string, std::string>& o, const std::string& name, int fallback) {
  const auto it = o.find(name);
  if (it == o.end()) return fallback;
  char* end = nullptr;
  const long value = std::strtol(it->second.c_str(), &end, 10);
  if (it->second.empty() || *end != '\0' || value < 0 || value > (1 << 24))
    fail("--" + name + " needs a count, got '" + it->second + "'");
  return static_cast<int>(value);
}

uint64_t splitmix(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

int random_model(int argc, char** argv) {
  if (argc < 3) fail("random-model OUT [flags]");
  const auto o = options(argc, argv, 3);
  const int layers = number(o, "layers", 32), d = number(o, "embedding", 4096);
  const int heads = number(o, "heads", 32), kv_heads = number(o, "kv-heads", 8);
  const int ff = number(o, "feed-forward", 14336), vocab = number(o, "vocab", 128256);
  const std::string type_name = o.count("type") ? o.at("type") : "Q4_K";
  std::optional<DType> type;
  for (uint32_t id = 0; id < 64; ++id)
    if (auto t = dtype_traits(id); t && t->name == type_name) type = static_cast<DType>(id);
  if (!type) fail("unknown --type " + type_name);
  const int head_dim = d / heads;
  test::GgufWriter w;
  w.add_string("general.architecture", "llama");
  w.add_string("general.name", "random llama " + std::to_string(layers) + "x" + std::to_string(d) +
                                   " " + type_name);
  w.add_u32("llama.block_count", static_cast<uint32_t>(layers));
  w.add_u32("llama.embedding_length", static_cast<uint32_t>(d));
  w.add_u32("llama.feed_forward_length", static_cast<uint32_t>(ff));
  w.add_u32("llama.attention.head_count", static_cast<uint32_t>(heads));
  w.add_u32("llama.attention.head_count_kv", static_cast<uint32_t>(kv_heads));
  w.add_u32("llama.context_length", 8192);
  w.add_u32("llama.vocab_size", static_cast<uint32_t>(vocab));
  w.add_f32("llama.rope.freq_base", 500000.0f);
  w.add_f32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
  if (traits(*type).block_elements == 1) fail("random-model takes quantized types");
  uint64_t state = 1;
  const auto matrix = [&](const std::string& name, int64_t rows, int64_t cols) {
    const auto bytes =
        test::random_weights(*type, rows, cols, 0.002f, [&] { return splitmix(state); });
    const auto* data = reinterpret_cast<const std::byte*>(bytes.data());
    w.add_tensor(name, {cols, rows}, *type, std::vector<std::byte>(data, data + bytes.size()));
  };
  const auto norm = [&](const std::string& name) {
    w.add_tensor(name, {d}, DType::F32, test::as_bytes(std::vector<float>(d, 1.0f)));
  };
  matrix("token_embd.weight", vocab, d);
  norm("output_norm.weight");
  matrix("output.weight", vocab, d);
  for (int l = 0; l < layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    norm(p + "attn_norm.weight");
    matrix(p + "attn_q.weight", heads * head_dim, d);
    matrix(p + "attn_k.weight", kv_heads * head_dim, d);
    matrix(p + "attn_v.weight", kv_heads * head_dim, d);
    matrix(p + "attn_output.weight", d, heads * head_dim);
    norm(p + "ffn_norm.weight");
    matrix(p + "ffn_gate.weight", ff, d);
    matrix(p + "ffn_up.weight", ff, d);
    matrix(p + "ffn_down.weight", d, ff);
  }
  const auto bytes = w.bytes();
  std::ofstream(argv[2], std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()),
             static_cast<std::streamsize>(bytes.size()));
  std::printf("{\"model\": \"%s\", \"bytes\": %zu, \"type\": \"%s\"}\n", argv[2], bytes.size(),
              type_name.c_str());
  return 0;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

int decode(int argc, char** argv) {
  if (argc < 3) fail("decode MODEL [flags]");
  const auto o = options(argc, argv, 3);
  const int concurrent = number(o, "concurrent", 1), prompt = number(o, "prompt", 128);
  const int tokens = number(o, "tokens", 128);
  auto file = gguf::File::open(argv[2]);
  if (!file) fail(file.message());
  auto config = read_model_config(**file);
  if (!config) fail(config.message());
  auto weights = load_model_weights(*file, *config, {}, CpuPacking::no);
  if (!weights) fail(weights.message());
  const int blocks_each = (prompt + tokens + 15) / 16;
  const bool graphs = number(o, "graphs", 1) != 0;
  auto pass =
      make_cuda_forward_pass(*config, *weights, KvShape{concurrent * blocks_each, 16}, {graphs});
  if (!pass) fail(pass.message());
  ForwardPass& p = **pass;

  std::vector<std::vector<int32_t>> tables(static_cast<size_t>(concurrent));
  std::vector<std::vector<int32_t>> prompts(tables.size());
  uint64_t state = 7;
  for (int s = 0; s < concurrent; ++s) {
    for (int b = 0; b < blocks_each; ++b) tables[s].push_back(s * blocks_each + b);
    for (int i = 0; i < prompt; ++i)
      prompts[s].push_back(static_cast<int32_t>(splitmix(state) % config->vocab_size));
  }
  std::vector<SequenceChunk> chunks;
  for (int s = 0; s < concurrent; ++s)
    chunks.push_back({prompts[s], 0, tables[s], ChunkLogits::last});
  const auto prefill_start = std::chrono::steady_clock::now();
  p.forward(chunks);
  const double prefill = seconds_since(prefill_start);

  std::vector<int32_t> next(static_cast<size_t>(concurrent), 1);
  const auto decode_start = std::chrono::steady_clock::now();
  for (int step = 0; step < tokens; ++step) {
    chunks.clear();
    for (int s = 0; s < concurrent; ++s)
      chunks.push_back({std::span(&next[s], 1), prompt + step, tables[s], ChunkLogits::last});
    const auto logits = p.forward(chunks);
    for (int s = 0; s < concurrent; ++s)  // greedy, so each step's tokens depend on the last's
      next[s] = static_cast<int32_t>(
          std::max_element(logits.begin() + int64_t{s} * config->vocab_size,
                           logits.begin() + int64_t{s + 1} * config->vocab_size) -
          (logits.begin() + int64_t{s} * config->vocab_size));
  }
  const double decode_seconds = seconds_since(decode_start);
  const double decode_rate = concurrent * tokens / decode_seconds;
  std::printf(
      "{\"model\": \"%s\", \"weight_bytes_per_step\": %lld, \"concurrent\": %d, "
      "\"prompt\": %d, \"tokens\": %d, \"prefill_tokens_per_s\": %.1f, "
      "\"decode_tokens_per_s\": %.2f, \"output_tokens_per_s_with_prefill\": %.2f, "
      "\"decode_step_ms\": %.3f, \"graphs\": %s}\n",
      config->name.c_str(), static_cast<long long>(weight_bytes_per_step(*weights)), concurrent,
      prompt, tokens, concurrent * prompt / prefill, decode_rate,
      concurrent * tokens / (prefill + decode_seconds), 1e3 * decode_seconds / tokens,
      graphs ? "true" : "false");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::string command = argc > 1 ? argv[1] : "";
    if (command == "bandwidth") {
      const double bps = cuda::measure_read_bandwidth(int64_t{8} << 30, 10);
      std::printf("{\"read_bytes_per_s\": %.4g}\n", bps);
      return 0;
    }
    if (command == "random-model") return random_model(argc, argv);
    if (command == "decode") return decode(argc, argv);
    fail("commands: bandwidth, random-model OUT [flags], decode MODEL [flags]");
  } catch (const std::exception& e) {
    fail(e.what());
  }
}
