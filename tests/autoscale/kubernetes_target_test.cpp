// Where the Kubernetes actuator finds the API server: a kubeconfig's current context (server,
// CA inline or as a file, token inline or as a file, namespace) and a pod's service account.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "autoscale/actuators/kubernetes_target.hpp"

using namespace troupe::autoscale;

namespace {

std::string kubeconfig(const std::string& cluster, const std::string& user,
                       const std::string& context_namespace = "") {
  return "current-context: c\n"
         "contexts:\n- name: c\n  context: {cluster: k, user: u" +
         (context_namespace.empty() ? "" : ", namespace: " + context_namespace) +
         "}\n"
         "clusters:\n- name: k\n  cluster: {" +
         cluster +
         "}\n"
         "users:\n- name: u\n  user: {" +
         user + "}\n";
}

std::filesystem::path scratch_dir() {
  auto dir = std::filesystem::temp_directory_path() / ("troupe-kube-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace

TEST_CASE("a kubeconfig's current context gives the server, its CA, the token and namespace") {
  // "PEM" in base64 is UEVN.
  auto target = parse_kubeconfig(
      kubeconfig(R"(server: "https://10.1.2.3:6443", certificate-authority-data: UEVN)",
                 "token: t0k", "serving"),
      "/home/me/.kube/config", "troupe", "");
  REQUIRE(target);
  CHECK(target->server.host == "10.1.2.3");
  CHECK(target->server.port == "6443");
  CHECK(target->server.ca_pem == "PEM");
  CHECK(target->token == "t0k");
  CHECK(target->namespace_name == "serving");
  CHECK(target->statefulset == "troupe");
  // A namespace given on the command line wins; with neither, "default".
  CHECK(parse_kubeconfig(kubeconfig(R"(server: "https://h", certificate-authority-data: UEVN)",
                                    "token: t", "serving"),
                         "k", "s", "other")
            ->namespace_name == "other");
  CHECK(parse_kubeconfig(
            kubeconfig(R"(server: "https://h", certificate-authority-data: UEVN)", "token: t"), "k",
            "s", "")
            ->namespace_name == "default");
}

TEST_CASE("a kubeconfig's CA and token files are read relative to it") {
  const auto dir = scratch_dir();
  std::ofstream(dir / "ca.crt") << "CA";
  std::ofstream(dir / "token") << "from-file\n";
  auto target = parse_kubeconfig(
      kubeconfig(R"(server: "https://h:1", certificate-authority: ca.crt)", "tokenFile: token"),
      (dir / "config").string(), "s", "");
  REQUIRE(target);
  CHECK(target->server.ca_pem == "CA");
  CHECK(target->bearer() == "from-file");
  // The kubelet rotates a projected token: each call sends the file's current one.
  std::ofstream(dir / "token") << "rotated\n";
  CHECK(target->bearer() == "rotated");
  std::filesystem::remove_all(dir);
}

TEST_CASE("a kubeconfig troupe cannot use is one error saying why") {
  const auto error = [](const std::string& text) {
    auto target = parse_kubeconfig(text, "cfg", "s", "");
    REQUIRE_FALSE(target);
    return target.message();
  };
  CHECK(error("kind: Config") == "kubeconfig cfg has no current-context");
  CHECK(error(kubeconfig(R"(server: "https://h")", "token: t"))
            .find("has no certificate-authority") != std::string::npos);
  CHECK(error(kubeconfig(R"(server: "http://h", certificate-authority-data: UEVN)", "token: t"))
            .find("must start with https://") != std::string::npos);
  CHECK(error(kubeconfig(R"(server: "https://h", certificate-authority-data: UEVN)",
                         "client-certificate-data: UEVN"))
            .find("only bearer tokens") != std::string::npos);
  CHECK(error(kubeconfig(R"(server: "https://h", certificate-authority-data: "%%%")", "token: t"))
            .find("not base64") != std::string::npos);
  CHECK(error("[").find("kubeconfig cfg:") == 0);
}

TEST_CASE("in a pod, the service account's files and the service environment") {
  const auto dir = scratch_dir();
  std::ofstream(dir / "ca.crt") << "CA";
  std::ofstream(dir / "token") << "sa-token\n";
  std::ofstream(dir / "namespace") << "prod\n";
  ::setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
  ::setenv("KUBERNETES_SERVICE_PORT", "443", 1);
  auto target = in_cluster_target("troupe", "", dir.string());
  REQUIRE(target);
  CHECK(target->server.host == "10.96.0.1");
  CHECK(target->bearer() == "sa-token");
  CHECK(target->namespace_name == "prod");
  ::unsetenv("KUBERNETES_SERVICE_HOST");
  CHECK(in_cluster_target("troupe", "", dir.string()).message().find("--kubeconfig") !=
        std::string::npos);
  std::filesystem::remove_all(dir);
}
