#pragma once
// Which replica node takes a request: the router actor's policy, a pure function of what it
// knows about each node (its own count of requests in flight there, and the load the node's
// health reports give). Five strategies, chosen by `--routing`.
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace troupe::cluster {

enum class RoutingStrategy {
  round_robin,        // each routable node in turn
  least_outstanding,  // fewest requests in flight (nginx's least_conn)
  weighted,           // in proportion to --weight, evenly interleaved (smooth weighted RR)
  kv_aware,           // lowest KV cache use plus queue, from the nodes' health reports
  prefix_affinity,    // the same prompt prefix to the same node, unless it is overloaded
};

std::optional<RoutingStrategy> parse_routing(std::string_view name);
std::string_view routing_name(RoutingStrategy strategy);
// "round-robin, least-outstanding, weighted, kv-aware, prefix-affinity", for error messages.
std::string routing_names();

// What the router knows about one replica node.
struct NodeLoad {
  std::string name;
  double weight = 1.0;    // --weight of the node, > 0
  bool routable = true;   // joined, healthy and not draining
  int outstanding = 0;    // requests routed there that have not ended
  int waiting = 0;        // its schedulers' queue, as last reported
  double kv_usage = 0.0;  // its KV blocks in use, 0..1, as last reported
  int capacity = 256;     // sequences it runs at once (--max-num-seqs)
};

// The bound of consistent hashing with bounded loads: a node may hold at most this factor times
// the mean load before prefix affinity moves on to the next node in its order.
constexpr double kAffinityLoadFactor = 1.25;

class Router {
 public:
  explicit Router(RoutingStrategy strategy) : strategy_(strategy) {}
  RoutingStrategy strategy() const { return strategy_; }

  // The index in `nodes` of the node for a request whose prompt starts with what `prefix_key`
  // hashes, passing over nodes that are not routable or are named in `excluded` (already tried
  // for this request). nullopt when no node is left.
  std::optional<size_t> pick(std::span<const NodeLoad> nodes, uint64_t prefix_key,
                             std::span<const std::string> excluded = {});

 private:
  RoutingStrategy strategy_;
  uint64_t turn_ = 0;                     // round robin: requests routed so far
  std::map<std::string, double> credit_;  // weighted: each node's current credit
};

// A key for prefix affinity: a hash of the prompt's first `bytes` bytes, so requests sharing a
// system prompt (or any long common start) hash alike.
uint64_t prefix_key(std::string_view prompt_start, size_t bytes = 512);

}  // namespace troupe::cluster
