#include "net/cluster/routing.hpp"

#include <algorithm>
#include <cmath>

namespace troupe::cluster {
namespace {

constexpr std::pair<RoutingStrategy, std::string_view> kNames[] = {
    {RoutingStrategy::round_robin, "round-robin"},
    {RoutingStrategy::least_outstanding, "least-outstanding"},
    {RoutingStrategy::weighted, "weighted"},
    {RoutingStrategy::kv_aware, "kv-aware"},
    {RoutingStrategy::prefix_affinity, "prefix-affinity"},
};

uint64_t fnv1a(std::string_view bytes, uint64_t hash = 0xcbf29ce484222325ull) {
  for (unsigned char c : bytes) hash = (hash ^ c) * 0x100000001b3ull;
  return hash;
}

// A well-mixed 64-bit function of two values (splitmix64's finalizer over their combination).
uint64_t mix(uint64_t a, uint64_t b) {
  uint64_t z = a ^ (b + 0x9e3779b97f4a7c15ull + (a << 6) + (a >> 2));
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// The index with the smallest key among `candidates`, the first on ties.
template <typename Key>
size_t min_by(const std::vector<size_t>& candidates, Key key) {
  return *std::min_element(candidates.begin(), candidates.end(),
                           [&](size_t a, size_t b) { return key(a) < key(b); });
}

}  // namespace

std::optional<RoutingStrategy> parse_routing(std::string_view name) {
  for (const auto& [strategy, n] : kNames) {
    if (n == name) return strategy;
  }
  return std::nullopt;
}

std::string_view routing_name(RoutingStrategy strategy) {
  for (const auto& [s, n] : kNames) {
    if (s == strategy) return n;
  }
  return "round-robin";
}

std::string routing_names() {
  std::string out;
  for (const auto& [s, n] : kNames) out += (out.empty() ? "" : ", ") + std::string(n);
  return out;
}

uint64_t prefix_key(std::string_view prompt_start, size_t bytes) {
  return fnv1a(prompt_start.substr(0, bytes));
}

std::optional<size_t> Router::pick(std::span<const NodeLoad> nodes, uint64_t prefix_key,
                                   std::span<const std::string> excluded) {
  std::vector<size_t> candidates;
  for (size_t i = 0; i < nodes.size(); ++i) {
    const bool tried = std::find(excluded.begin(), excluded.end(), nodes[i].name) != excluded.end();
    if (nodes[i].routable && !tried) candidates.push_back(i);
  }
  if (candidates.empty()) return std::nullopt;

  switch (strategy_) {
    case RoutingStrategy::round_robin:
      return candidates[turn_++ % candidates.size()];

    case RoutingStrategy::least_outstanding:
      return min_by(candidates, [&](size_t i) { return nodes[i].outstanding; });

    case RoutingStrategy::weighted: {
      // nginx's smooth weighted round robin: every node gains its weight, the richest is picked
      // and pays the total. Over any window the picks follow the weights, evenly interleaved.
      double total = 0;
      for (size_t i : candidates) {
        credit_[nodes[i].name] += nodes[i].weight;
        total += nodes[i].weight;
      }
      const size_t chosen = min_by(candidates, [&](size_t i) { return -credit_[nodes[i].name]; });
      credit_[nodes[chosen].name] -= total;
      return chosen;
    }

    case RoutingStrategy::kv_aware:
      // The KV cache's fill plus the queue (waiting and in flight) against what the node runs at
      // once: both say how soon a new request gets its blocks and its first step.
      return min_by(candidates, [&](size_t i) {
        const NodeLoad& n = nodes[i];
        return n.kv_usage + double(n.waiting + n.outstanding) / std::max(1, n.capacity);
      });

    case RoutingStrategy::prefix_affinity: {
      // Rendezvous hashing orders the nodes per prefix, so each prefix has a home node that
      // stays put when other nodes come and go; bounded loads (Mirrokni et al.) pass a request
      // to the next node in that order when its home holds more than its share.
      std::vector<size_t> order = candidates;
      std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
        return mix(prefix_key, fnv1a(nodes[a].name)) > mix(prefix_key, fnv1a(nodes[b].name));
      });
      double load = 1;  // this request
      for (size_t i : candidates) load += nodes[i].outstanding;
      const double bound = std::ceil(kAffinityLoadFactor * load / double(candidates.size()));
      for (size_t i : order) {
        if (nodes[i].outstanding + 1 <= bound) return i;
      }
      return order.front();  // unreachable: some node is at or below the mean
    }
  }
  return candidates.front();
}

}  // namespace troupe::cluster
