#include "autoscale/actuators/kubernetes_target.hpp"

#include <openssl/evp.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace troupe::autoscale {
namespace {

Result<std::string> read_file(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error("cannot read " + what + " " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' '))
    text.pop_back();
  return text;
}

Result<std::string> base64_decode(const std::string& text, const std::string& what) {
  std::string clean;
  for (char c : text)
    if (c != '\n' && c != '\r' && c != ' ') clean.push_back(c);
  if (clean.empty() || clean.size() % 4 != 0) return make_error(what + " is not base64");
  std::string out(clean.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(clean.data()),
                                static_cast<int>(clean.size()));
  if (n < 0) return make_error(what + " is not base64");
  size_t padding = 0;
  while (padding < 2 && clean[clean.size() - 1 - padding] == '=') ++padding;
  out.resize(static_cast<size_t>(n) - padding);
  return out;
}

// The entry named `name` of a kubeconfig list (clusters, users, contexts): its inner map.
YAML::Node named(const YAML::Node& list, const std::string& name, const char* inner) {
  if (!list || !list.IsSequence()) return YAML::Node();
  for (const auto& entry : list)
    if (entry["name"] && entry["name"].Scalar() == name) return entry[inner];
  return YAML::Node();
}

std::string scalar(const YAML::Node& node, const char* key) {
  const YAML::Node value = node[key];
  return value && value.IsScalar() ? value.Scalar() : std::string();
}

Result<KubernetesTarget> from_kubeconfig(const YAML::Node& root, const std::string& path,
                                         const std::string& statefulset,
                                         const std::string& namespace_name) {
  const std::string where = "kubeconfig " + path;
  const std::string context_name = scalar(root, "current-context");
  if (context_name.empty()) return make_error(where + " has no current-context");
  const YAML::Node context = named(root["contexts"], context_name, "context");
  if (!context) return make_error(where + ": no context named '" + context_name + "'");
  const YAML::Node cluster = named(root["clusters"], scalar(context, "cluster"), "cluster");
  if (!cluster) return make_error(where + ": context '" + context_name + "' names no cluster");
  const YAML::Node user = named(root["users"], scalar(context, "user"), "user");
  if (!user) return make_error(where + ": context '" + context_name + "' names no user");

  std::string ca;
  const std::filesystem::path base = std::filesystem::path(path).parent_path();
  if (const std::string data = scalar(cluster, "certificate-authority-data"); !data.empty()) {
    auto decoded = base64_decode(data, where + ": certificate-authority-data");
    if (!decoded) return decoded.error();
    ca = std::move(*decoded);
  } else if (std::string file = scalar(cluster, "certificate-authority"); !file.empty()) {
    if (std::filesystem::path(file).is_relative()) file = (base / file).string();
    auto read = read_file(file, "the CA certificate");
    if (!read) return read.error();
    ca = std::move(*read);
  } else {
    return make_error(where +
                      ": the cluster has no certificate-authority: troupe does not "
                      "talk to an API server it cannot verify");
  }
  auto server = http::parse_https_url(scalar(cluster, "server"), std::move(ca));
  if (!server) return make_error(where + ": " + server.message());

  std::string token = scalar(user, "token");
  std::string token_file;
  if (token.empty()) {
    if (std::string file = scalar(user, "tokenFile"); !file.empty()) {
      if (std::filesystem::path(file).is_relative()) file = (base / file).string();
      auto read = read_file(file, "the token file");
      if (!read) return read.error();
      token = trimmed(std::move(*read));
      token_file = file;
    }
  }
  if (token.empty())
    return make_error(where + ": the user has no token (only bearer tokens are supported)");
  std::string ns = namespace_name.empty() ? scalar(context, "namespace") : namespace_name;
  if (ns.empty()) ns = "default";
  return KubernetesTarget{std::move(*server), std::move(token), std::move(token_file),
                          std::move(ns), statefulset};
}

}  // namespace

std::string KubernetesTarget::bearer() const {
  if (token_file.empty()) return token;
  auto read = read_file(token_file, "the token file");
  return read && !trimmed(*read).empty() ? trimmed(std::move(*read)) : token;
}

Result<KubernetesTarget> in_cluster_target(const std::string& statefulset,
                                           const std::string& namespace_name,
                                           const std::string& account_dir) {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (!host || !*host)
    return make_error("not in a Kubernetes pod (no KUBERNETES_SERVICE_HOST): give --kubeconfig");
  auto ca = read_file(account_dir + "/ca.crt", "the service account's CA certificate");
  if (!ca) return ca.error();
  auto token = read_file(account_dir + "/token", "the service account's token");
  if (!token) return token.error();
  std::string ns = namespace_name;
  if (ns.empty()) {
    auto read = read_file(account_dir + "/namespace", "the pod's namespace");
    if (!read) return read.error();
    ns = trimmed(std::move(*read));
  }
  const std::string host_text = std::string(host).find(':') != std::string::npos
                                    ? "[" + std::string(host) + "]"
                                    : std::string(host);
  auto server = http::parse_https_url("https://" + host_text + ":" + (port && *port ? port : "443"),
                                      std::move(*ca));
  if (!server) return server.error();
  return KubernetesTarget{std::move(*server), trimmed(std::move(*token)), account_dir + "/token",
                          std::move(ns), statefulset};
}

Result<KubernetesTarget> parse_kubeconfig(const std::string& text, const std::string& path,
                                          const std::string& statefulset,
                                          const std::string& namespace_name) {
  try {
    const YAML::Node root = YAML::Load(text);
    if (!root.IsMap()) return make_error("kubeconfig " + path + " is not a mapping");
    return from_kubeconfig(root, path, statefulset, namespace_name);
  } catch (const YAML::Exception& e) {
    return make_error("kubeconfig " + path + ": " + e.msg);
  }
}

Result<KubernetesTarget> kubeconfig_target(const std::string& path, const std::string& statefulset,
                                           const std::string& namespace_name) {
  auto text = read_file(path, "the kubeconfig");
  if (!text) return text.error();
  return parse_kubeconfig(*text, path, statefulset, namespace_name);
}

}  // namespace troupe::autoscale
