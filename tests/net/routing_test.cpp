#include <catch2/catch.hpp>
#include <map>
#include <vector>

#include "net/cluster/routing.hpp"

using namespace troupe::cluster;

namespace {

std::vector<NodeLoad> three_nodes() {
  return {NodeLoad{.name = "a"}, NodeLoad{.name = "b"}, NodeLoad{.name = "c"}};
}

}  // namespace

TEST_CASE("routing strategies parse by their flag names") {
  for (auto s :
       {RoutingStrategy::round_robin, RoutingStrategy::least_outstanding, RoutingStrategy::weighted,
        RoutingStrategy::kv_aware, RoutingStrategy::prefix_affinity}) {
    REQUIRE(parse_routing(routing_name(s)) == s);
  }
  REQUIRE_FALSE(parse_routing("random").has_value());
  REQUIRE(routing_names() == "round-robin, least-outstanding, weighted, kv-aware, prefix-affinity");
}

TEST_CASE("round robin spreads within one and passes over nodes that are down or tried") {
  Router router(RoutingStrategy::round_robin);
  auto nodes = three_nodes();
  std::map<std::string, int> count;
  for (int i = 0; i < 200; ++i) count[nodes[*router.pick(nodes, 0)].name]++;
  for (const auto& [name, n] : count) CHECK(std::abs(n - 200 / 3) <= 1);

  nodes[1].routable = false;
  const std::vector<std::string> tried = {"a"};
  for (int i = 0; i < 10; ++i) REQUIRE(nodes[*router.pick(nodes, 0, tried)].name == "c");
  nodes[2].routable = false;
  REQUIRE_FALSE(router.pick(nodes, 0, tried).has_value());
}

TEST_CASE("least outstanding never picks a node busier than another") {
  Router router(RoutingStrategy::least_outstanding);
  auto nodes = three_nodes();
  nodes[0].outstanding = 5;
  nodes[1].outstanding = 2;
  nodes[2].outstanding = 3;
  for (int i = 0; i < 30; ++i) {
    const size_t chosen = *router.pick(nodes, 0);
    for (const auto& n : nodes) REQUIRE(nodes[chosen].outstanding <= n.outstanding);
    nodes[chosen].outstanding++;
  }
}

TEST_CASE("weighted routing follows the weights exactly over a cycle, interleaved") {
  Router router(RoutingStrategy::weighted);
  auto nodes = three_nodes();
  nodes[0].weight = 1, nodes[1].weight = 2, nodes[2].weight = 3;
  std::map<std::string, int> count;
  for (int i = 1; i <= 60; ++i) {
    count[nodes[*router.pick(nodes, 0)].name]++;
    // Smooth: at every point each node is within one pick of its share.
    for (const auto& n : nodes) CHECK(std::abs(count[n.name] - i * n.weight / 6.0) < 1.0 + 1e-9);
  }
  REQUIRE(count["a"] == 10);
  REQUIRE(count["b"] == 20);
  REQUIRE(count["c"] == 30);
}

TEST_CASE("kv-aware routing prefers the emptier cache and the shorter queue") {
  Router router(RoutingStrategy::kv_aware);
  auto nodes = three_nodes();
  nodes[0].kv_usage = 0.9, nodes[1].kv_usage = 0.2, nodes[2].kv_usage = 0.3;
  REQUIRE(nodes[*router.pick(nodes, 0)].name == "b");
  nodes[1].waiting = 100;  // a long queue outweighs a little cache
  REQUIRE(nodes[*router.pick(nodes, 0)].name == "c");
}

TEST_CASE("prefix affinity keeps a prefix on one node, spreads prefixes, and bounds the load") {
  Router router(RoutingStrategy::prefix_affinity);
  auto nodes = three_nodes();
  const uint64_t key = prefix_key("You are a helpful assistant. Answer briefly.");
  const size_t home = *router.pick(nodes, key);
  for (int i = 0; i < 10; ++i) REQUIRE(*router.pick(nodes, key) == home);

  std::map<size_t, int> homes;
  for (int p = 0; p < 300; ++p)
    homes[*router.pick(nodes, prefix_key("prompt " + std::to_string(p)))]++;
  REQUIRE(homes.size() == 3);
  for (const auto& [node, n] : homes) CHECK(n > 50);

  // The home stays the home when another node leaves.
  auto fewer = nodes;
  fewer[(home + 1) % 3].routable = false;
  REQUIRE(*router.pick(fewer, key) == home);

  // Past its bounded share, the next node in the prefix's order takes the request.
  nodes[home].outstanding = 10;
  const size_t overflow = *router.pick(nodes, key);
  REQUIRE(overflow != home);
  REQUIRE(*router.pick(nodes, key) == overflow);
}

TEST_CASE("prefix keys look only at the prompt's start") {
  const std::string shared(600, 's');
  REQUIRE(prefix_key(shared + "one") == prefix_key(shared + "two"));
  REQUIRE(prefix_key("one") != prefix_key("two"));
}
