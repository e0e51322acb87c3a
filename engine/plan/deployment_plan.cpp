#include "engine/plan/deployment_plan.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <utility>

#include "engine/model/shard_spec.hpp"

namespace troupe::plan {
namespace {

// llama.cpp's nominal bits per weight, most precise first: the suggestion takes the first that
// fits.
constexpr std::array<std::pair<const char*, double>, 7> kQuantizations{{
    {"F16", 16.0},
    {"Q8_0", 8.5},
    {"Q6_K", 6.5625},
    {"Q5_K", 5.5},
    {"Q4_1", 5.0},
    {"Q4_K", 4.5},
    {"Q4_0", 4.5},
}};

int64_t usable(const PlanRequest& r) {
  return static_cast<int64_t>(static_cast<double>(r.device_memory) * r.utilisation);
}

// The memory a model of `weights` bytes leaves for the KV cache.
int64_t kv_room(const PlanRequest& r, int64_t weights) {
  return usable(r) - weights - r.runtime_overhead;
}

}  // namespace

std::optional<double> bits_per_weight(const std::string& type) {
  for (const auto& [name, bits] : kQuantizations)
    if (type == name) return bits;
  if (type == "BF16") return 16.0;
  if (type == "F32") return 32.0;
  return std::nullopt;
}

std::string human_bytes(int64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (std::abs(value) >= 1024 && unit < 4) {
    value /= 1024;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof text, unit == 0 ? "%.0f %s" : "%.2f %s", value, kUnits[unit]);
  return text;
}

std::vector<int> tensor_parallel_sizes(const ModelShape& m) {
  std::vector<int> sizes;
  for (int n = 1; n <= m.heads; ++n)
    if (splits_evenly(m.heads, m.kv_heads, m.feed_forward, n)) sizes.push_back(n);
  return sizes;
}

std::optional<std::string> tensor_parallel_refusal(const ModelShape& m, int size) {
  if (size == 1) return std::nullopt;
  if (size < 1) return "the tensor-parallel size must be at least 1, got " + std::to_string(size);
  if (m.heads <= 0)
    return std::string("the model's query heads are unknown: no tensor parallelism");
  const std::vector<int> sizes = tensor_parallel_sizes(m);
  if (std::find(sizes.begin(), sizes.end(), size) != sizes.end()) return std::nullopt;
  std::string valid;
  for (int n : sizes) valid += (valid.empty() ? "" : ", ") + std::to_string(n);
  return "tensor-parallel size " + std::to_string(size) + " does not split the model's " +
         std::to_string(m.heads) + " query heads, " + std::to_string(m.kv_heads) +
         " KV heads and " + std::to_string(m.feed_forward) +
         " feed-forward features evenly; valid sizes: " + valid;
}

Result<int> recommend_tensor_parallel(PlanRequest request, int devices) {
  if (devices < 1) return make_error("--devices must be at least 1");
  std::optional<Error> last;
  for (int n : tensor_parallel_sizes(request.model)) {
    if (n > devices) break;
    request.tensor_parallel = n;
    auto plan = plan_deployment(request);
    if (plan) return n;
    last = plan.error();
  }
  if (last) return *last;
  request.tensor_parallel = 1;
  auto plan = plan_deployment(request);
  if (!plan) return plan.error();
  return 1;
}

Result<DeploymentPlan> plan_deployment(const PlanRequest& r) {
  const ModelShape& m = r.model;
  if (m.layers <= 0 || m.kv_heads <= 0 || m.head_dim <= 0)
    return make_error("the model's shape is incomplete (layers, KV heads and head size needed)");
  if (m.weight_bytes <= 0) return make_error("the model's weights have no size");
  if (r.device_memory <= 0) return make_error("--device-memory must be more than 0 bytes");
  if (r.max_model_len < 0) return make_error("--max-model-len must be at least 1");
  if (auto refusal = tensor_parallel_refusal(m, r.tensor_parallel)) return make_error(*refusal);
  DeploymentPlan p;
  const int n = r.tensor_parallel;
  p.tensor_parallel = n;
  p.weight_bytes = m.weight_bytes;
  p.kv_bytes_per_token = int64_t{2} * m.layers * m.kv_heads * m.head_dim * r.kv_bytes_per_value;
  // Every matrix (embeddings and output included) split n ways; the norms, replicated, are too
  // small to count.
  p.weight_bytes_per_rank = (m.weight_bytes + n - 1) / n;
  p.kv_heads_replicated = m.kv_heads < n;
  p.kv_heads_per_rank = p.kv_heads_replicated ? 1 : m.kv_heads / n;
  p.kv_bytes_per_token_per_rank =
      int64_t{2} * m.layers * p.kv_heads_per_rank * m.head_dim * r.kv_bytes_per_value;
  p.max_model_len = r.max_model_len > 0 ? r.max_model_len : m.context_length;
  if (p.max_model_len <= 0)
    return make_error("the model has no context length: give --max-model-len");
  const int64_t one_sequence = p.kv_bytes_per_token_per_rank * p.max_model_len;
  const int64_t room = kv_room(r, p.weight_bytes_per_rank);
  if (room < one_sequence) {
    std::string message = "the model does not fit in " + human_bytes(r.device_memory) + ": " +
                          human_bytes(p.weight_bytes_per_rank) + " of weights (" + m.weight_type +
                          (n > 1 ? ", one rank's of " + std::to_string(n) : std::string()) +
                          ") and " + human_bytes(r.runtime_overhead) + " of overhead leave " +
                          (room > 0 ? human_bytes(room) : std::string("nothing")) +
                          " for the KV cache, and one sequence of " +
                          std::to_string(p.max_model_len) + " tokens needs " +
                          human_bytes(one_sequence);
    std::optional<std::string> fits;
    const double now_bits = bits_per_weight(m.weight_type).value_or(1e9);
    for (const auto& [name, bits] : kQuantizations) {
      const auto weights = static_cast<int64_t>(static_cast<double>(m.parameters) * bits / 8);
      if (bits < now_bits && m.parameters > 0 && kv_room(r, weights / n) >= one_sequence) {
        fits = std::string(name) + " (about " + human_bytes(weights) + " of weights)";
        break;
      }
    }
    if (fits) {
      message += "; quantized to " + *fits + " it would fit";
    } else {
      message +=
          "; no quantization troupe runs makes it fit: more memory, or a lower "
          "--max-model-len";
    }
    return make_error(message);
  }
  p.kv_cache_bytes = room;  // per rank: each holds its slice of every token's KV
  p.kv_tokens = room / p.kv_bytes_per_token_per_rank;
  p.concurrent_sequences = p.kv_tokens / p.max_model_len;
  // The pod: on a GPU, the weights' file mapping once and each rank's process; on the CPU,
  // each rank's weights, KV cache and process.
  p.memory_request = r.on_gpu ? m.weight_bytes + n * r.runtime_overhead
                              : n * (p.weight_bytes_per_rank + room + r.runtime_overhead);
  p.memory_limit = p.memory_request + p.memory_request / 10;
  return p;
}

}  // namespace troupe::plan
