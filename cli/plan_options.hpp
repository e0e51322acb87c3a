#pragma once
// The planner's flags (troupe plan, troupe deploy k8s): the model (a GGUF, or a Hugging Face
// config.json), the memory, the device and max-model-len, read into a plan; and, where the
// command has them (troupe plan), tensor parallelism: --tensor-parallel-size, or --devices for
// the size to recommend.
#include <string>
#include <vector>

#include "cli/flags.hpp"
#include "engine/plan/deployment_plan.hpp"
#include "engine/result.hpp"

namespace troupe::cli {

std::vector<FlagSpec> plan_flags();
std::vector<FlagSpec> tensor_parallel_plan_flags();

struct PlannedDeployment {
  plan::ModelShape model;
  plan::PlanRequest request;
  plan::DeploymentPlan plan;
  std::string device;  // cpu or cuda
  int devices = 0;     // --devices: the size was recommended for this many (0: not asked)
};

// Errors, one line: a flag's bad value, a model that cannot be read, or one that does not fit
// (with the quantization that would).
Result<PlannedDeployment> plan_from_flags(const Flags& flags);

}  // namespace troupe::cli
