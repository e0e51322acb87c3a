#include "cli/autoscale_options.hpp"

#include "autoscale/policy_file.hpp"

namespace troupe::cli {

std::vector<FlagSpec> autoscale_flags() {
  return {
      {"autoscale", "MODE",
       "scale replicas with the load: local (troupe worker processes on this host) or "
       "kubernetes (a StatefulSet)"},
      {"min-replicas", "N", "fewest replicas, this node's included (default 1)"},
      {"max-replicas", "N", "most replicas (default: the rules file's, else 4)"},
      {"autoscale-rules", "FILE",
       "YAML: rules, windows, cooldowns, SLO targets (configs/autoscale-rules.yaml)"},
      {"slo-ttft-ms", "MS", "scale to keep p90 time to first token under MS"},
      {"slo-itl-ms", "MS", "scale to keep p90 inter-token latency under MS"},
      {"autoscale-advisory", "", "decide and report, but do not start or drain replicas"},
      {"kube-statefulset", "NAME", "kubernetes: the StatefulSet whose pods are the replicas"},
      {"kube-namespace", "NS", "kubernetes: its namespace (default: the pod's or kubeconfig's)"},
      {"kubeconfig", "FILE",
       "kubernetes: the API server, CA and token of FILE's current context (default: the pod's "
       "service account)"},
  };
}

namespace {

// A positive number (an SLO target in milliseconds) into `target`, if the flag is given.
Status set_positive(const Flags& flags, const char* name, double& target) {
  if (!flags.has(name)) return Ok{};
  auto value = flags.get_double(name, 0);
  if (!value) return value.error();
  if (!(*value > 0))
    return make_error(std::string("flag --") + name + " must be a positive number, got '" +
                      *flags.get(name) + "'");
  target = *value;
  return Ok{};
}

}  // namespace

Result<std::optional<AutoscaleOptions>> autoscale_options(const Flags& flags) {
  const auto mode = flags.get("autoscale");
  if (!mode) {
    for (const FlagSpec& f : autoscale_flags())
      if (flags.has(f.name))
        return make_error("flag --" + f.name + " needs --autoscale local|kubernetes");
    return std::optional<AutoscaleOptions>{};
  }
  if (*mode != "local" && *mode != "kubernetes")
    return make_error("flag --autoscale must be local or kubernetes, got '" + *mode + "'");
  AutoscaleOptions o;
  o.mode = *mode;
  autoscale::PolicyFile file;
  file.policy.rules = autoscale::default_rules();
  file.policy.max_replicas = 4;
  if (const auto path = flags.get("autoscale-rules")) {
    auto loaded = autoscale::load_policy_file(*path);
    if (!loaded) return loaded.error();
    file = std::move(*loaded);
  }
  o.policy = file.policy;
  o.tick = file.tick.value_or(o.tick);
  o.advisory = flags.has("autoscale-advisory") || file.advisory.value_or(false);
  if (flags.has("min-replicas")) {
    auto n = ranged_int(flags, "min-replicas", 1, 1, 1000);
    if (!n) return n.error();
    o.policy.min_replicas = static_cast<int32_t>(*n);
  }
  if (flags.has("max-replicas")) {
    auto n = ranged_int(flags, "max-replicas", 4, 1, 1000);
    if (!n) return n.error();
    o.policy.max_replicas = static_cast<int32_t>(*n);
  }
  for (auto [name, target] : {std::pair{"slo-ttft-ms", &o.policy.slo.ttft_ms},
                              std::pair{"slo-itl-ms", &o.policy.slo.itl_ms}}) {
    if (Status set = set_positive(flags, name, *target); !set) return set.error();
  }
  o.statefulset = flags.get("kube-statefulset").value_or("");
  o.namespace_name = flags.get("kube-namespace").value_or("");
  o.kubeconfig = flags.get("kubeconfig").value_or("");
  if (o.mode == "kubernetes" && o.statefulset.empty())
    return make_error("--autoscale kubernetes needs --kube-statefulset NAME");
  if (o.mode == "local" && (!o.statefulset.empty() || flags.has("kubeconfig")))
    return make_error("--kube-statefulset and --kubeconfig are for --autoscale kubernetes");
  if (auto problem = autoscale::check(o.policy)) return make_error("autoscaler: " + *problem);
  return std::optional<AutoscaleOptions>{std::move(o)};
}

std::vector<std::string> local_worker_args(const Flags& flags, const std::string& model_path,
                                           const std::string& join) {
  std::vector<std::string> args{"worker", "--join", join, "--model", model_path};
  for (const char* name :
       {"device", "threads", "gpu-memory-utilization", "kv-cache-memory", "block-size",
        "max-model-len", "max-num-seqs", "max-num-batched-tokens", "max-waiting", "drain-timeout",
        "cluster-secret-file", "chat-template"}) {
    if (const auto value = flags.get(name))
      args.insert(args.end(), {std::string("--") + name, *value});
  }
  for (const char* name :
       {"no-enable-prefix-caching", "no-enable-chunked-prefill", "enforce-eager"}) {
    if (flags.has(name)) args.push_back(std::string("--") + name);
  }
  return args;
}

}  // namespace troupe::cli
