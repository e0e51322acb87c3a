#include "cli/cluster_options.hpp"

#include <unistd.h>

#include "net/auth/admin_access.hpp"
#include "net/cluster/cluster_secret.hpp"

namespace troupe::cli {

std::vector<FlagSpec> front_cluster_flags() {
  return {
      {"cluster-port", "N", "accept replica nodes (troupe worker --join) on this port"},
      {"cluster-host", "ADDR",
       "address of the cluster port (default 0.0.0.0 with a cluster secret, else 127.0.0.1)"},
      cluster_secret_flag(),
      {"routing", "STRATEGY",
       "how requests pick a node: " + cluster::routing_names() + " (default round-robin)"},
      {"unhealthy-after", "S",
       "seconds without a health answer before a node leaves routing "
       "(default 3)"},
      {"no-local-replica", "", "run no model replica here: route every request to joined nodes"},
  };
}

FlagSpec cluster_secret_flag() {
  return {"cluster-secret-file", "FILE",
          "the cluster's shared secret (mode 600): nodes that hold it talk over mutual TLS"};
}

Result<std::optional<std::string>> cluster_secret(const Flags& flags) {
  const auto path = flags.get("cluster-secret-file");
  if (!path) return std::optional<std::string>();
  auto secret = cluster::read_cluster_secret(*path);
  if (!secret) return secret.error();
  return std::optional<std::string>(std::move(*secret));
}

std::vector<FlagSpec> node_flags() {
  std::vector<FlagSpec> flags{
      {"node-name", "NAME", "this node's name in the cluster (default: host name and pid)"},
      {"weight", "W", "this node's share under --routing weighted (default 1)"},
      {"max-waiting", "N", "requests queued before new ones are refused (default 1024)"},
      {"drain-timeout", "S", "seconds to let requests finish on shutdown (default 30)"},
  };
  for (FlagSpec& f : device_flags()) flags.push_back(std::move(f));
  return flags;
}

Result<FrontClusterOptions> front_cluster_options(const Flags& flags) {
  FrontClusterOptions o;
  if (flags.has("cluster-port")) {
    auto port = ranged_int(flags, "cluster-port", 0, 0, 65535);
    if (!port) return port.error();
    o.port = static_cast<uint16_t>(*port);
  }
  auto secret = cluster_secret(flags);
  if (!secret) return secret.error();
  o.secret = std::move(*secret);
  if (auto host = flags.get("cluster-host")) {
    // Without the secret, a port other hosts can reach would let any of them join and read
    // prompts: refuse to open one.
    if (!o.secret && !auth::is_loopback_address(*host)) {
      return make_error("--cluster-host " + *host +
                        " needs --cluster-secret-file: without a secret the cluster port only "
                        "listens on loopback");
    }
    o.host = *host;
  } else if (o.secret) {
    o.host = "0.0.0.0";
  }
  if (auto name = flags.get("routing")) {
    auto routing = cluster::parse_routing(*name);
    if (!routing) {
      return make_error("flag --routing must be one of " + cluster::routing_names() + ", got '" +
                        *name + "'");
    }
    o.routing = *routing;
  }
  auto after = seconds_flag(flags, "unhealthy-after", 3.0);
  if (!after) return after.error();
  o.unhealthy_after = *after;
  o.local_replica = !flags.has("no-local-replica");
  if (!o.local_replica && !o.port) {
    return make_error("--no-local-replica needs --cluster-port: no node could serve requests");
  }
  return o;
}

Result<NodeOptions> node_options(const Flags& flags, const std::string& fallback_name) {
  NodeOptions o;
  o.name = flags.get("node-name").value_or(fallback_name);
  if (o.name.empty()) return make_error("flag --node-name must not be empty");
  auto weight = flags.get_double("weight", 1.0);
  if (!weight) return weight.error();
  if (!(*weight > 0) || *weight > 1e6) {
    return make_error("flag --weight must be a positive number");
  }
  o.weight = *weight;
  auto device = device_options(flags);
  if (!device) return device.error();
  o.device = *device;
  auto waiting = ranged_int(flags, "max-waiting", 1024, 1, 1 << 24);
  if (!waiting) return waiting.error();
  o.max_waiting = static_cast<int>(*waiting);
  auto drain = seconds_flag(flags, "drain-timeout", 30);
  if (!drain) return drain.error();
  o.drain_timeout = *drain;
  return o;
}

std::string default_node_name() {
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  return std::string(host) + "-" + std::to_string(getpid());
}

}  // namespace troupe::cli
