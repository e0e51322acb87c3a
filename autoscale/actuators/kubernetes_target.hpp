#pragma once
// Where the Kubernetes actuator finds the API server and how it proves who it is: in a pod,
// the service account's token and CA and the KUBERNETES_SERVICE_HOST/PORT environment; outside,
// a kubeconfig's current context (its cluster's server and CA, its user's token). Only bearer
// tokens: the StatefulSet's scale subresource is all it needs a Role for.
#include <chrono>
#include <string>

#include "engine/result.hpp"
#include "net/http/tls_client.hpp"

namespace troupe::autoscale {

struct KubernetesTarget {
  http::TlsEndpoint server;  // the API server, and the CA its certificate must lead to
  std::string token;         // sent as a bearer token; never logged
  // Where the token came from, if a file: read again for every call, since the kubelet rotates
  // a projected service-account token (about hourly).
  std::string token_file;
  std::string namespace_name;
  std::string statefulset;
  std::chrono::milliseconds timeout{10000};  // per API call

  // The token to send now: the file's current content, else `token`.
  std::string bearer() const;
};

// The service account's view from inside a pod (files under `account_dir`, by default
// /var/run/secrets/kubernetes.io/serviceaccount). An empty namespace takes the pod's.
Result<KubernetesTarget> in_cluster_target(
    const std::string& statefulset, const std::string& namespace_name,
    const std::string& account_dir = "/var/run/secrets/kubernetes.io/serviceaccount");

// The current context of a kubeconfig's text; `path` names it in errors and anchors relative
// file names in it.
Result<KubernetesTarget> parse_kubeconfig(const std::string& text, const std::string& path,
                                          const std::string& statefulset,
                                          const std::string& namespace_name);

// The current context of the kubeconfig at `path`. An empty namespace takes the context's
// (else "default").
Result<KubernetesTarget> kubeconfig_target(const std::string& path, const std::string& statefulset,
                                           const std::string& namespace_name);

}  // namespace troupe::autoscale
