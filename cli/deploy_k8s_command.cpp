// troupe deploy k8s: the Kubernetes manifests of deploy/k8s from flags, for users without
// kustomize (cli/k8s_manifests). With --device-memory the replicas' memory and KV cache come
// from the planner (troupe plan).
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "cli/commands.hpp"
#include "cli/k8s_manifests.hpp"
#include "cli/plan_options.hpp"

namespace troupe::cli {

int deploy_k8s_command(const Args& args) {
  CommandSpec spec{
      "deploy k8s",
      "troupe deploy k8s [--replicas N] [--autoscale] [--model PATH] [flags]",
      "Prints the Kubernetes manifests of deploy/k8s (a front, a StatefulSet of replica nodes,\n"
      "their Services, ConfigMap, Secrets, PodDisruptionBudget and the autoscaler's Role) for\n"
      "these flags. Without --autoscale the replicas are a fixed --replicas; with it troupe's\n"
      "autoscaler keeps them between --min-replicas and --replicas. --device-memory sizes the\n"
      "replicas with the planner (troupe plan). deploy/k8s/README.md explains the manifests.",
      {{"replicas", "N", "replica pods (with --autoscale: the most; default 2)"},
       {"autoscale", "", "troupe's autoscaler scales the replicas (a Role on their scale)"},
       {"min-replicas", "N", "with --autoscale: the fewest replicas (default 1)"},
       {"namespace", "NS", "the namespace (default troupe)"},
       {"image", "IMAGE", "the container image (default troupe:dev, deploy/docker)"},
       {"model-path", "PATH",
        "the model's path in the pods (default /models/ and --model's file name)"},
       {"output", "FILE", "write the manifests here instead of printing them"}}};
  for (auto& f : plan_flags()) spec.flags.push_back(std::move(f));
  Flags flags;
  if (auto done = parse_flags(spec, args, flags)) return *done;
  if (!flags.positional().empty())
    return input_error("unexpected argument '" + flags.positional()[0] + "'");
  K8sOptions o;
  auto replicas = ranged_int(flags, "replicas", 2, 1, 10000);
  auto min_replicas = ranged_int(flags, "min-replicas", 1, 1, 10000);
  for (const auto* r : {&replicas, &min_replicas})
    if (!*r) return input_error(r->message());
  o.autoscale = flags.has("autoscale");
  if (!o.autoscale && flags.has("min-replicas"))
    return input_error("--min-replicas is for --autoscale");
  o.replicas = o.max_replicas = static_cast<int32_t>(*replicas);
  o.min_replicas = static_cast<int32_t>(*min_replicas);
  if (o.autoscale && o.min_replicas > o.max_replicas)
    return input_error("--min-replicas " + std::to_string(o.min_replicas) +
                       " is above --replicas " + std::to_string(o.max_replicas));
  o.namespace_name = flags.get("namespace").value_or("troupe");
  o.image = flags.get("image").value_or("troupe:dev");
  if (auto path = flags.get("model-path")) {
    o.model_path = *path;
  } else if (auto model = flags.get("model")) {
    o.model_path = "/models/" + std::filesystem::path(*model).filename().string();
  }
  o.gpu = flags.get("device").value_or("cpu") == "cuda";
  if (flags.has("device-memory")) {
    auto planned = plan_from_flags(flags);
    if (!planned) return input_error(planned.message());
    o.kv_cache_memory = planned->plan.kv_cache_bytes;
    o.replica_memory_request = planned->plan.memory_request;
    o.replica_memory_limit = planned->plan.memory_limit;
  } else if (flags.has("hf-config") || flags.has("max-model-len") || flags.has("weight-type")) {
    return input_error("--hf-config, --max-model-len and --weight-type plan with --device-memory");
  }
  auto manifests = render_k8s_manifests(kK8sBase, o);
  if (!manifests) return input_error(manifests.message());
  if (auto path = flags.get("output")) {
    std::ofstream file(*path);
    if (!(file << *manifests)) return input_error("cannot write --output file " + *path);
    return 0;
  }
  std::fputs(manifests->c_str(), stdout);
  return 0;
}

}  // namespace troupe::cli
