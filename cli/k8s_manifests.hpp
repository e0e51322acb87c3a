#pragma once
// troupe deploy k8s: the manifests of deploy/k8s/base (built into the binary), changed as flags
// ask: namespace, image, model, a fixed replica count or troupe's autoscaler between bounds,
// GPUs, and the replicas' memory and KV cache from the planner. The same objects `kubectl apply
// -k deploy/k8s/overlays/cpu` (or gpu) makes, for users without kustomize.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/result.hpp"

namespace troupe::cli {

struct ManifestFile {
  const char* name;  // e.g. "front.yaml"
  const char* text;
};
// deploy/k8s/base, kustomization.yaml included (cli/embed_files.cmake writes it).
extern const std::vector<ManifestFile> kK8sBase;

struct K8sOptions {
  std::string namespace_name = "troupe";
  std::string image = "troupe:dev";
  std::string model_path;  // in the pods; empty: the base's
  bool autoscale = true;   // troupe's autoscaler between min and max; else a fixed count
  int32_t replicas = 1;    // fixed count (autoscale off)
  int32_t min_replicas = 1;
  int32_t max_replicas = 4;
  bool gpu = false;
  // From the planner (troupe plan); 0 keeps the base's.
  int64_t replica_memory_request = 0;
  int64_t replica_memory_limit = 0;
  int64_t kv_cache_memory = 0;
};

// The manifests as one YAML stream (documents in the kustomization's order), or why not.
Result<std::string> render_k8s_manifests(const std::vector<ManifestFile>& base,
                                         const K8sOptions& options);

}  // namespace troupe::cli
