// troupe plan: how a model fits in a device's memory (engine/plan/deployment_plan): its weights,
// its KV bytes per token, the KV tokens that fit beside the weights, the sequences that run at
// once at max-model-len, and the pod's memory request and limit; a quantization that fits when
// it does not. From a GGUF file, or from a Hugging Face config.json for a model not downloaded.
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/commands.hpp"
#include "cli/model_store.hpp"
#include "engine/plan/model_shape.hpp"
#include "engine/serve/byte_size.hpp"

namespace troupe::cli {
namespace {

CommandSpec plan_spec() {
  return {"plan",
          "troupe plan --device-memory BYTES [--model PATH | --hf-config FILE] [flags]",
          "Plans a deployment: the model's weights, its KV cache bytes per token (grouped-query\n"
          "aware; troupe's cache is F16), the KV tokens that fit in the memory beside the\n"
          "weights, the sequences that run at once at --max-model-len, and the pod's memory\n"
          "request and limit. When the model does not fit: one line naming a quantization\n"
          "that would, exit 2.",
          {model_flag(),
           {"hf-config", "FILE", "plan from a Hugging Face config.json instead of a GGUF file"},
           {"weight-type", "TYPE",
            "with --hf-config: the weights' type, e.g. Q4_K (default: its torch_dtype)"},
           {"device-memory", "BYTES", "the GPU's memory, or the pod's on the CPU, e.g. 24GiB"},
           {"device", "cpu|cuda", "where the model runs (default cpu)"},
           {"max-model-len", "N", "most tokens per sequence (default: the model's context)"},
           {"gpu-memory-utilization", "F", "the share of the memory to use (default 0.9)"},
           {"json", "", "print the plan as JSON"}}};
}

std::string with_commas(int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n);
  for (int i = static_cast<int>(digits.size()) - 3; i > 0; i -= 3) digits.insert(i, ",");
  return (n < 0 ? "-" : "") + digits;
}

Result<plan::ModelShape> model_shape(const Flags& flags) {
  if (auto hf = flags.get("hf-config")) {
    if (flags.has("model")) return make_error("give --model or --hf-config, not both");
    std::ifstream in(*hf);
    if (!in) return make_error("cannot read --hf-config '" + *hf + "'");
    std::stringstream text;
    text << in.rdbuf();
    return plan::shape_of_hf_config(text.str(), *hf, flags.get("weight-type").value_or(""));
  }
  if (flags.has("weight-type")) return make_error("--weight-type is for --hf-config");
  auto path = resolve_model_path(flags.get("model").value_or(""));
  if (!path) return path.error();
  auto file = gguf::File::open(*path);
  if (!file) return file.error();
  return plan::shape_of_gguf(**file);
}

}  // namespace

int plan_command(const Args& args) {
  Flags flags;
  if (auto done = parse_flags(plan_spec(), args, flags)) return *done;
  if (!flags.positional().empty())
    return input_error("plan takes no positional arguments, got '" + flags.positional()[0] + "'");
  const auto memory_text = flags.get("device-memory");
  if (!memory_text) return input_error("--device-memory BYTES is required, e.g. 24GiB");
  auto memory = parse_byte_size(*memory_text);
  if (!memory) return input_error("flag --device-memory: " + memory.message());
  auto max_len = ranged_int(flags, "max-model-len", 1, 1, 1 << 24);
  if (!max_len) return input_error(max_len.message());
  auto share = flags.get_double("gpu-memory-utilization", 0.9);
  if (!share) return input_error(share.message());
  if (!(*share > 0 && *share <= 1))
    return input_error("flag --gpu-memory-utilization must be in (0, 1]");
  const std::string device = flags.get("device").value_or("cpu");
  if (device != "cpu" && device != "cuda")
    return input_error("flag --device must be cpu or cuda, got '" + device + "'");
  auto shape = model_shape(flags);
  if (!shape) return input_error(shape.message());
  plan::PlanRequest request;
  request.model = *shape;
  request.device_memory = *memory;
  request.max_model_len = flags.has("max-model-len") ? static_cast<int>(*max_len) : 0;
  request.utilisation = *share;
  request.on_gpu = device == "cuda";
  auto p = plan::plan_deployment(request);
  if (!p) return input_error(p.message());
  const plan::ModelShape& m = *shape;
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
  std::printf("KV cache        %s of %s at %.0f%% (--kv-cache-memory %lldMiB)\n",
              plan::human_bytes(p->kv_cache_bytes).c_str(), plan::human_bytes(*memory).c_str(),
              *share * 100, static_cast<long long>(p->kv_cache_bytes >> 20));
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
