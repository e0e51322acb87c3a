#pragma once
// The cluster's flags: a front's (--cluster-port, --cluster-host, --routing, --unhealthy-after)
// and every node's (--node-name, --weight, --device, --threads, --max-waiting, --drain-timeout),
// shared by serve and worker.
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "cli/device_options.hpp"
#include "cli/flags.hpp"
#include "engine/result.hpp"
#include "net/cluster/routing.hpp"

namespace troupe::cli {

struct FrontClusterOptions {
  std::optional<uint16_t> port;  // --cluster-port: publish the router there
  // --cluster-host; without a cluster secret only loopback, as Redis's protected mode.
  std::string host = "127.0.0.1";
  std::optional<std::string> secret;  // from --cluster-secret-file
  cluster::RoutingStrategy routing = cluster::RoutingStrategy::round_robin;
  std::chrono::milliseconds unhealthy_after{3000};
  bool local_replica = true;  // false: --no-local-replica, the front only routes
};

struct NodeOptions {
  std::string name;  // --node-name, default the host name and process id
  double weight = 1.0;
  DeviceOptions device;    // where its replica runs, with how many threads
  int max_waiting = 1024;  // requests its scheduler queues before refusing more
  std::chrono::milliseconds drain_timeout{30000};
};

std::vector<FlagSpec> front_cluster_flags();
FlagSpec cluster_secret_flag();
// The secret in --cluster-secret-file, if given; errors name the file, never the secret.
Result<std::optional<std::string>> cluster_secret(const Flags& flags);
std::vector<FlagSpec> node_flags();
Result<FrontClusterOptions> front_cluster_options(const Flags& flags);
// `fallback_name` when --node-name is absent.
Result<NodeOptions> node_options(const Flags& flags, const std::string& fallback_name);

// The host name and this process's id, e.g. "box-4121": unique enough for a default node name.
std::string default_node_name();

}  // namespace troupe::cli
