#pragma once
// `troupe serve --autoscale local|kubernetes` and its flags: the bounds, the rules file, SLO
// targets, advisory mode; and the command line of the workers the local actuator starts.
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "autoscale/policy.hpp"
#include "cli/flags.hpp"
#include "engine/result.hpp"

namespace troupe::cli {

struct AutoscaleOptions {
  std::string mode;  // "local" or "kubernetes"
  autoscale::PolicyConfig policy;
  std::chrono::milliseconds tick{1000};
  bool advisory = false;
  // kubernetes: the StatefulSet of replicas, its namespace, and a kubeconfig (else in-cluster).
  std::string statefulset;
  std::string namespace_name;
  std::string kubeconfig;
};

std::vector<FlagSpec> autoscale_flags();
// Empty without --autoscale. Flags win over the rules file, the file over the defaults.
Result<std::optional<AutoscaleOptions>> autoscale_options(const Flags& flags);

// `worker --join JOIN --model MODEL` and the serve flags its replicas share (engine, device,
// threads, drain, cluster secret), for the local actuator; the node name is its to add.
std::vector<std::string> local_worker_args(const Flags& flags, const std::string& model_path,
                                           const std::string& join);

}  // namespace troupe::cli
