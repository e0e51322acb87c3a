// troupe plan: how a model fits in a device's memory (engine/plan/deployment_plan): its weights,
// its KV bytes per token, the KV tokens that fit beside the weights, the sequences that run at
// once at max-model-len, and the pod's memory request and limit; a quantization that fits when
// it does not. From a GGUF file, or from a Hugging Face config.json for a model not downloaded.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/plan_options.hpp"

namespace troupe::cli {
namespace {

CommandSpec plan_spec() {
  CommandSpec spec{
      "plan", "troupe plan --device-memory BYTES [--model PATH | --hf-config FILE] [flags]",
      "Plans a deployment: the model's weights, its KV cache bytes per token (grouped-query\n"
      "aware; troupe's cache is F16), the KV tokens that fit in the memory beside the\n"
      "weights, the sequences that run at once at --max-model-len, and the pod's memory\n"
      "request and limit. When the model does not fit: one line naming a quantization\n"
      "that would, exit 2.",
      plan_flags()};
  for (auto& f : tensor_parallel_plan_flags()) spec.flags.push_back(std::move(f));
  spec.flags.push_back({"json", "", "print the plan as JSON"});
  return spec;
}

std::string with_commas(int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n);
  for (int i = static_cast<int>(digits.size()) - 3; i > 0; i -= 3) digits.insert(i, ",");
  return (n < 0 ? "-" : "") + digits;
}

}  // namespace

int plan_command(const Args& args) {
  Flags flags;
  if (auto done = parse_flags(plan_spec(), args, flags)) return *done;
  if (!flags.positional().empty())
    return input_error("plan takes no positional arguments, got '" + flags.positional()[0] + "'");
  auto planned = plan_from_flags(flags);
  if (!planned) return input_error(planned.message());
  const std::string& device = planned->device;
  const plan::DeploymentPlan* p = &planned->plan;
  const double share = planned->request.utilisation;
  const int64_t memory = planned->request.device_memory;
  const plan::ModelShape& m = planned->model;
  if (flags.has("json")) {
    const nlohmann::json out = {{"model", m.name},
                                {"weight_type", m.weight_type},
                                {"parameters", m.parameters},
                                {"layers", m.layers},
                                {"kv_heads", m.kv_heads},
                                {"head_dim", m.head_dim},
                                {"weight_bytes", p->weight_bytes},
                                {"kv_bytes_per_token", p->kv_bytes_per_token},
                                {"max_model_len", p->max_model_len},
                                {"kv_cache_bytes", p->kv_cache_bytes},
                                {"kv_tokens", p->kv_tokens},
                                {"concurrent_sequences", p->concurrent_sequences},
                                {"memory_request_bytes", p->memory_request},
                                {"memory_limit_bytes", p->memory_limit},
                                {"tensor_parallel_size", p->tensor_parallel},
                                {"valid_tensor_parallel_sizes", plan::tensor_parallel_sizes(m)},
                                {"weight_bytes_per_rank", p->weight_bytes_per_rank},
                                {"kv_heads_per_rank", p->kv_heads_per_rank},
                                {"kv_heads_replicated", p->kv_heads_replicated},
                                {"kv_bytes_per_token_per_rank", p->kv_bytes_per_token_per_rank},
                                {"device", device}};
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  std::printf("model           %s (%s, %s parameters)\n", m.name.c_str(), m.weight_type.c_str(),
              with_commas(m.parameters).c_str());
  std::printf("weights         %s (%s bytes)\n", plan::human_bytes(p->weight_bytes).c_str(),
              with_commas(p->weight_bytes).c_str());
  std::printf("KV per token    %s bytes (2 x %d layers x %d KV heads x %d x 2 bytes, F16)\n",
              with_commas(p->kv_bytes_per_token).c_str(), m.layers, m.kv_heads, m.head_dim);
  if (p->tensor_parallel > 1 || planned->devices > 0) {
    std::string sizes;
    for (int n : plan::tensor_parallel_sizes(m))
      sizes += (sizes.empty() ? "" : ", ") + std::to_string(n);
    std::printf(
        "tensor parallel %d rank(s)%s (valid sizes: %s)\n", p->tensor_parallel,
        planned->devices > 0
            ? (", the fewest of " + std::to_string(planned->devices) + " devices that fit").c_str()
            : "",
        sizes.c_str());
    std::printf("per rank        %s of weights, %s bytes of KV per token (%d KV head(s)%s)\n",
                plan::human_bytes(p->weight_bytes_per_rank).c_str(),
                with_commas(p->kv_bytes_per_token_per_rank).c_str(), p->kv_heads_per_rank,
                p->kv_heads_replicated ? ", replicated" : "");
  }
  std::printf("KV cache        %s of %s at %.0f%% (--kv-cache-memory %lldMiB)\n",
              plan::human_bytes(p->kv_cache_bytes).c_str(), plan::human_bytes(memory).c_str(),
              share * 100, static_cast<long long>(p->kv_cache_bytes >> 20));
  std::printf("KV tokens       %s\n", with_commas(p->kv_tokens).c_str());
  std::printf("sequences       %s at once at max-model-len %d\n",
              with_commas(p->concurrent_sequences).c_str(), p->max_model_len);
  std::printf("pod memory      request %s, limit %s (%s)\n",
              plan::human_bytes(p->memory_request).c_str(),
              plan::human_bytes(p->memory_limit).c_str(),
              device == "cuda" ? "weights and overhead: the KV cache is on the GPU"
                               : "weights, KV cache and overhead");
  return 0;
}

}  // namespace troupe::cli
