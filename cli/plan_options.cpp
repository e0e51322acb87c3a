#include "cli/plan_options.hpp"

#include <fstream>
#include <sstream>

#include "cli/hf_config.hpp"
#include "cli/model_store.hpp"
#include "engine/plan/model_shape.hpp"
#include "engine/serve/byte_size.hpp"

namespace troupe::cli {
namespace {

Result<plan::ModelShape> model_shape(const Flags& flags) {
  if (auto hf = flags.get("hf-config")) {
    if (flags.has("model")) return make_error("give --model or --hf-config, not both");
    std::ifstream in(*hf);
    if (!in) return make_error("cannot read --hf-config '" + *hf + "'");
    std::stringstream text;
    text << in.rdbuf();
    return shape_of_hf_config(text.str(), *hf, flags.get("weight-type").value_or(""));
  }
  if (flags.has("weight-type")) return make_error("--weight-type is for --hf-config");
  auto path = resolve_model_path(flags.get("model").value_or(""));
  if (!path) return path.error();
  auto file = gguf::File::open(*path);
  if (!file) return file.error();
  return plan::shape_of_gguf(**file);
}

}  // namespace

std::vector<FlagSpec> plan_flags() {
  return {model_flag(),
          {"hf-config", "FILE", "plan from a Hugging Face config.json instead of a GGUF file"},
          {"weight-type", "TYPE",
           "with --hf-config: the weights' type, e.g. Q4_K (default: its torch_dtype)"},
          {"device-memory", "BYTES", "the GPU's memory, or the pod's on the CPU, e.g. 24GiB"},
          {"device", "cpu|cuda", "where the model runs (default cpu)"},
          {"max-model-len", "N", "most tokens per sequence (default: the model's context)"},
          {"gpu-memory-utilization", "F", "the share of the memory to use (default 0.9)"}};
}

std::vector<FlagSpec> tensor_parallel_plan_flags() {
  return {{"tensor-parallel-size", "N", "plan each rank of a group of N (default 1)"},
          {"devices", "N", "recommend the smallest tensor-parallel size up to N that fits"}};
}

Result<PlannedDeployment> plan_from_flags(const Flags& flags) {
  const auto memory_text = flags.get("device-memory");
  if (!memory_text) return make_error("--device-memory BYTES is required, e.g. 24GiB");
  auto memory = parse_byte_size(*memory_text);
  if (!memory) return make_error("flag --device-memory: " + memory.message());
  auto max_len = ranged_int(flags, "max-model-len", 1, 1, 1 << 24);
  if (!max_len) return max_len.error();
  auto share = flags.get_double("gpu-memory-utilization", 0.9);
  if (!share) return share.error();
  if (!(*share > 0 && *share <= 1))
    return make_error("flag --gpu-memory-utilization must be in (0, 1]");
  PlannedDeployment planned;
  planned.device = flags.get("device").value_or("cpu");
  if (planned.device != "cpu" && planned.device != "cuda")
    return make_error("flag --device must be cpu or cuda, got '" + planned.device + "'");
  auto shape = model_shape(flags);
  if (!shape) return shape.error();
  planned.model = *shape;
  planned.request.model = *shape;
  planned.request.device_memory = *memory;
  planned.request.max_model_len = flags.has("max-model-len") ? static_cast<int>(*max_len) : 0;
  planned.request.utilisation = *share;
  planned.request.on_gpu = planned.device == "cuda";
  if (flags.has("tensor-parallel-size") && flags.has("devices"))
    return make_error("give --tensor-parallel-size or --devices, not both");
  auto size = ranged_int(flags, "tensor-parallel-size", 1, 1, 4096);
  auto devices = ranged_int(flags, "devices", 1, 1, 4096);
  for (const auto* r : {&size, &devices})
    if (!*r) return r->error();
  planned.request.tensor_parallel = static_cast<int>(*size);
  if (flags.has("devices")) {
    planned.devices = static_cast<int>(*devices);
    auto recommended = plan::recommend_tensor_parallel(planned.request, planned.devices);
    if (!recommended) return recommended.error();
    planned.request.tensor_parallel = *recommended;
  }
  auto p = plan::plan_deployment(planned.request);
  if (!p) return p.error();
  planned.plan = *p;
  return planned;
}

}  // namespace troupe::cli
