// A process that is not a node, aimed at a front's cluster port: it connects as any CAF process
// would (plain, or over TLS with credentials derived from a secret it was given) and asks the
// router to route a request and to drain the node "front". The cluster tests run it without the
// secret, or with a wrong one (it cannot connect), and with the secret (the router refuses both
// asks: they are the front's own process's), and check that the front acted on nothing.
// Usage: cluster_probe HOST PORT [SECRET_FILE]. Prints one line per step; exits 0 when the
// router answered both asks, 3 when it could not connect, 4 when it connected but got no answer.
#include <iostream>
#include <optional>
#include <string>

#include <caf/io/all.hpp>
#include <caf/openssl/all.hpp>

#include <caf/all.hpp>
#include "actors/cluster.hpp"
#include "actors/messages.hpp"

using namespace troupe;

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: cluster_probe HOST PORT [SECRET_FILE]\n";
    return 2;
  }
  const std::string host = argv[1];
  const auto port = static_cast<uint16_t>(std::stoi(argv[2]));
  std::optional<cluster::ClusterCredentials> credentials;
  if (argc > 3) {
    auto secret = cluster::read_cluster_secret(argv[3]);
    if (!secret) {
      std::cerr << secret.message() << "\n";
      return 2;
    }
    auto derived = cluster::ClusterCredentials::derive(*secret);
    if (!derived) return 2;
    credentials.emplace(std::move(*derived));
  }
  caf::actor_system_config config;
  configure_actor_system(config);
  enable_cluster_networking(config, credentials ? &*credentials : nullptr);
  caf::actor_system system{config};
  auto router = credentials ? caf::openssl::remote_actor(system, host, port)
                            : system.middleman().remote_actor(host, port);
  if (!router) {
    std::cout << "connect: refused (" << system.render(router.error()) << ")" << std::endl;
    return 3;
  }
  std::cout << "connect: ok" << std::endl;
  caf::scoped_actor self{system};
  int answered = 0;
  self->request(*router, std::chrono::seconds(5), route_atom::value, uint64_t{0},
                std::vector<std::string>{})
      .receive(
          [&](std::string& name, caf::actor&) {
            std::cout << "route: " << name << std::endl;
            ++answered;
          },
          [&](caf::error& error) { std::cout << "route: " << system.render(error) << std::endl; });
  self->request(*router, std::chrono::seconds(5), drain_atom::value, std::string("front"))
      .receive(
          [&](bool known) {
            std::cout << "drain: " << (known ? "done" : "unknown") << std::endl;
            ++answered;
          },
          [&](caf::error& error) { std::cout << "drain: " << system.render(error) << std::endl; });
  return answered == 2 ? 0 : 4;
}
