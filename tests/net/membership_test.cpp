// The cluster membership policy: joins and their refusals, loss by silence or by a dropped
// connection, name takeover, drain and undrain. Time is a parameter: no sleeping.
#include <catch2/catch.hpp>
#include <cmath>

#include "net/cluster/membership.hpp"
#include "net/metrics/latency_counts.hpp"

#include <numeric>

using namespace troupe;
using namespace troupe::cluster;
using namespace std::chrono_literals;

namespace {

// A replica's load as a worker reports it.
wire::ReplicaStats replica(const std::string& name, int32_t waiting, int32_t kv_used,
                           int32_t kv_free, int64_t prefix_queries, int64_t prefix_hits) {
  wire::ReplicaStats r;
  r.replica = name;
  r.waiting = waiting;
  r.kv_blocks_used = kv_used;
  r.kv_blocks_free = kv_free;
  r.prefix_cache_queries = prefix_queries;
  r.prefix_cache_hits = prefix_hits;
  return r;
}

const TimePoint t0 = TimePoint{} + 1h;  // any start; far from the clock's epoch

Membership cluster_of(std::string model = "m", std::chrono::milliseconds unhealthy_after = 3000ms) {
  return Membership(MembershipConfig{std::move(model), unhealthy_after});
}

wire::JoinRequest request(std::string name, double weight = 1.0, int32_t capacity = 8) {
  return {wire::kClusterProtocol, std::move(name), "m", weight, capacity};
}

const wire::HealthReport kAdmitting{true, true, false, "", 0, {}};

bool routable(const Membership& m, const std::string& name) {
  return m.find(name)->load.routable;
}

}  // namespace

TEST_CASE("a membership defaults to the router's setup: 3 s of silence loses a node") {
  const Membership cluster;
  CHECK(cluster.config().unhealthy_after == 3000ms);
  CHECK(cluster.config().model.empty());
  CHECK(cluster.members().empty());
}

TEST_CASE("a join is refused for another protocol, no name, another model or a weight not > 0") {
  auto cluster = cluster_of("model-a");
  auto refused = [&](wire::JoinRequest r) {
    const auto outcome = cluster.join(r, {}, t0);
    CHECK_FALSE(outcome.reply.accepted);
    CHECK_FALSE(outcome.took_over);
    CHECK(outcome.changes.empty());
    return outcome.reply.reason;
  };
  CHECK(refused({wire::kClusterProtocol + 1, "n1", "model-a", 1.0, 8}) ==
        "cluster protocol 2 is not this front's 1: run the same troupe version on every node");
  CHECK(refused({wire::kClusterProtocol, "", "model-a", 1.0, 8}) ==
        "the node has no name: give it --node-name");
  CHECK(refused({wire::kClusterProtocol, "n1", "model-b", 1.0, 8}) ==
        "the node serves 'model-b' but the cluster serves 'model-a': start it with the front's "
        "--model");
  CHECK(refused({wire::kClusterProtocol, "n1", "model-a", 0.0, 8}) == "--weight must be positive");
  CHECK(refused({wire::kClusterProtocol, "n1", "model-a", -2.0, 8}) == "--weight must be positive");
  CHECK(refused({wire::kClusterProtocol, "n1", "model-a", std::nan(""), 8}) ==
        "--weight must be positive");
  // The first rule broken is the one named: protocol, then name, then model, then weight.
  CHECK(
      refused({wire::kClusterProtocol + 1, "", "model-b", 0.0, 8}).starts_with("cluster protocol"));
  CHECK(
      refused({wire::kClusterProtocol, "", "model-b", 0.0, 8}).starts_with("the node has no name"));
  CHECK(refused({wire::kClusterProtocol, "n1", "model-b", 0.0, 8}).starts_with("the node serves"));
  CHECK(cluster.members().empty());
}

TEST_CASE("an accepted node is routable at once, with its weight and a capacity of at least 1") {
  auto cluster = cluster_of();
  const auto outcome = cluster.join(request("a", 2.5, 0), {.remote = true}, t0);
  CHECK(outcome.reply == wire::JoinReply{true, ""});
  CHECK_FALSE(outcome.took_over);
  CHECK(outcome.changes.empty());  // a new node starts routable: nothing changed
  const Member& a = *cluster.find("a");
  CHECK(a.load.name == "a");
  CHECK(a.load.weight == 2.5);
  CHECK(a.load.capacity == 1);
  CHECK(a.load.routable);
  CHECK(a.connected);
  CHECK(a.remote);
  CHECK_FALSE(a.lost);
  CHECK(a.joined_at == t0);
  CHECK(a.last_heard == t0);
  CHECK(cluster.join(request("b", 1.0, 16), {}, t0).reply.accepted);
  CHECK(cluster.find("b")->load.capacity == 16);
  // Routing sees them in the order they joined.
  const auto loads = cluster.loads();
  REQUIRE(loads.size() == 2);
  CHECK(loads[0].name == "a");
  CHECK(loads[1].name == "b");
}

TEST_CASE("a node is answering up to unhealthy_after exactly, and lost just past it, told once") {
  auto cluster = cluster_of("m", 3000ms);
  REQUIRE(cluster.join(request("a"), {}, t0).reply.accepted);
  CHECK(cluster.check(t0 + 3000ms).empty());
  CHECK(routable(cluster, "a"));
  CHECK(cluster.answering(*cluster.find("a"), t0 + 3000ms));

  const auto changes = cluster.check(t0 + 3000ms + 1ns);
  CHECK(changes.lost == std::vector<std::string>{"a"});
  REQUIRE(changes.routability.size() == 1);
  CHECK(changes.routability[0] == RoutabilityChange{"a", false, true});
  CHECK(describe(changes.routability[0]) == "down (silent or draining)");
  CHECK(cluster.find("a")->lost);
  // Still silent: nothing new to tell.
  CHECK(cluster.check(t0 + 10s).empty());
  // Heard again: routable, and lost again only after another silence.
  auto back = cluster.heard_from("a", kAdmitting, t0 + 11s);
  CHECK(back.lost.empty());
  CHECK(back.routability == std::vector<RoutabilityChange>{{"a", true, true}});
  CHECK(describe(back.routability[0]) == "routable");
  CHECK_FALSE(cluster.find("a")->lost);
  CHECK(cluster.check(t0 + 14s).empty());
  CHECK(cluster.check(t0 + 14s + 1ms).lost == std::vector<std::string>{"a"});
}

TEST_CASE("heartbeats alone keep a node routable; a node is checked against its last word") {
  auto cluster = cluster_of("m", 400ms);
  REQUIRE(cluster.join(request("n"), {}, t0).reply.accepted);
  for (auto t = t0; t < t0 + 800ms; t += 100ms) {
    CHECK(cluster.heard_from("n", kAdmitting, t).empty());
    CHECK(cluster.check(t + 50ms).empty());
  }
  CHECK(routable(cluster, "n"));
  CHECK(cluster.check(t0 + 700ms + 400ms).empty());
  CHECK(cluster.check(t0 + 700ms + 401ms).lost == std::vector<std::string>{"n"});
  CHECK_FALSE(routable(cluster, "n"));
}

TEST_CASE("a dropped connection loses a node at once, however recently it answered") {
  auto cluster = cluster_of();
  REQUIRE(cluster.join(request("a"), {}, t0).reply.accepted);
  REQUIRE(cluster.join(request("b"), {}, t0).reply.accepted);
  const auto changes = cluster.connection_dropped("a");
  CHECK(changes.lost == std::vector<std::string>{"a"});
  REQUIRE(changes.routability.size() == 1);
  CHECK(describe(changes.routability[0]) == "gone");
  CHECK_FALSE(cluster.find("a")->connected);
  CHECK(cluster.connected_nodes() == std::vector<std::string>{"b"});
  // Told once: a second down message and later checks add nothing.
  CHECK(cluster.connection_dropped("a").empty());
  CHECK(cluster.check(t0 + 1ms).empty());
  CHECK(cluster.connection_dropped("nobody").empty());
  // Its health answers and heartbeats are not heard any more.
  CHECK(cluster.heard_from("a", kAdmitting, t0 + 2ms).empty());
  CHECK(cluster.find("a")->last_heard == t0);
}

TEST_CASE("a health report gives the node's load, and admitting is live and not draining") {
  auto cluster = cluster_of();
  REQUIRE(cluster.join(request("a"), {}, t0).reply.accepted);
  wire::HealthReport report{true, false, false, "", 0, {}};  // not ready: still starting
  report.replicas.push_back(replica("r0", 3, 10, 30, 100, 40));
  report.replicas.push_back(replica("r1", 2, 30, 10, 50, 10));
  CHECK(cluster.heard_from("a", report, t0 + 1s).empty());
  const Member& a = *cluster.find("a");
  CHECK(a.load.waiting == 5);
  CHECK(a.load.kv_usage == Approx(0.5));
  CHECK(a.reported.prefix_cache_queries == 150);
  CHECK(a.reported.prefix_cache_hits == 50);
  CHECK(a.admitting);  // not ready yet, but its scheduler queues requests
  CHECK(a.load.routable);

  // No KV blocks reported: no usage. Draining or not live: out of routing, not lost.
  const auto draining = cluster.heard_from("a", {true, false, true, "draining", 0, {}}, t0 + 2s);
  CHECK(draining.lost.empty());
  CHECK(draining.routability == std::vector<RoutabilityChange>{{"a", false, true}});
  CHECK(cluster.find("a")->load.kv_usage == 0.0);
  CHECK(cluster.find("a")->load.waiting == 0);
  CHECK_FALSE(cluster.find("a")->lost);
  CHECK(cluster.heard_from("a", kAdmitting, t0 + 3s).routability.size() == 1);
  CHECK(cluster.heard_from("a", {false, false, false, "", 0, {}}, t0 + 4s).routability.size() == 1);
  CHECK_FALSE(routable(cluster, "a"));
  CHECK(cluster.heard_from("nobody", kAdmitting, t0).empty());
  CHECK(cluster.find("a")->health_reports == 4);
}

TEST_CASE("a name is taken while its node answers, up to unhealthy_after exactly") {
  auto cluster = cluster_of("m", 600ms);
  REQUIRE(cluster.join(request("pod-0"), {}, t0).reply.accepted);
  const auto refused = cluster.join(request("pod-0"), {}, t0 + 600ms);
  CHECK(refused.reply == wire::JoinReply{false, "a node named 'pod-0' is already in the cluster"});
  CHECK_FALSE(refused.took_over);
  // Heard, it keeps its name longer.
  cluster.heard_from("pod-0", kAdmitting, t0 + 500ms);
  CHECK_FALSE(cluster.join(request("pod-0"), {}, t0 + 1100ms).reply.accepted);
  // The same actor joining again is no intruder: accepted, no takeover.
  const auto again = cluster.join(request("pod-0", 3.0), {.holds_the_name = true}, t0 + 1100ms);
  CHECK(again.reply.accepted);
  CHECK_FALSE(again.took_over);
  CHECK(again.changes.empty());
  CHECK(cluster.find("pod-0")->load.weight == 3.0);
  CHECK(cluster.members().size() == 1);
}

TEST_CASE("a silent node's name goes to the node joining under it; its requests are told") {
  auto cluster = cluster_of("m", 600ms);
  REQUIRE(cluster.join(request("pod-0"), {.remote = true}, t0).reply.accepted);
  cluster.routed_to("pod-0");
  REQUIRE(cluster.drain("pod-0", t0).start == DrainStart::started);

  // Silent past the deadline, and no check has noticed yet: the takeover tells its requests.
  const auto outcome = cluster.join(request("pod-0", 2.0), {.remote = false}, t0 + 601ms);
  CHECK(outcome.reply.accepted);
  CHECK(outcome.took_over);
  CHECK(outcome.changes.lost == std::vector<std::string>{"pod-0"});
  // It was out of routing (drained); the replacement is routable at once.
  CHECK(outcome.changes.routability == std::vector<RoutabilityChange>{{"pod-0", true, true}});
  const Member& m = *cluster.find("pod-0");
  CHECK(cluster.members().size() == 1);
  CHECK(m.connected);
  CHECK_FALSE(m.lost);
  CHECK_FALSE(m.remote);
  CHECK_FALSE(m.drain_requested);  // the drain was the old node's
  CHECK(m.load.weight == 2.0);
  CHECK(m.joined_at == t0 + 601ms);
  // Its requests in flight still count until their bridges release them.
  CHECK(m.load.outstanding == 1);
  cluster.released("pod-0");
  CHECK(cluster.find("pod-0")->load.outstanding == 0);
  // Routable from its join: a request routed right after it finds it.
  CHECK(m.load.routable);
  CHECK(cluster.heard_from("pod-0", kAdmitting, t0 + 700ms).routability.empty());
  CHECK(routable(cluster, "pod-0"));
}

TEST_CASE("a takeover after a check already lost the node tells nobody twice") {
  auto cluster = cluster_of("m", 600ms);
  REQUIRE(cluster.join(request("pod-0"), {}, t0).reply.accepted);
  REQUIRE(cluster.check(t0 + 1s).lost == std::vector<std::string>{"pod-0"});
  const auto outcome = cluster.join(request("pod-0"), {}, t0 + 1s);
  CHECK(outcome.reply.accepted);
  CHECK(outcome.took_over);
  CHECK(outcome.changes.lost.empty());  // told at the check already
  CHECK(outcome.changes.routability == std::vector<RoutabilityChange>{{"pod-0", true, true}});
  CHECK(routable(cluster, "pod-0"));
  CHECK(cluster.check(t0 + 1100ms).empty());
}

TEST_CASE("a node that dropped its connection rejoins under its name at once, no takeover") {
  auto cluster = cluster_of("m", 3000ms);
  REQUIRE(cluster.join(request("a"), {.remote = true}, t0).reply.accepted);
  REQUIRE(cluster.join(request("b"), {}, t0).reply.accepted);
  cluster.routed_to("a");
  cluster.connection_dropped("a");
  // Within unhealthy_after of its last word: no matter, it is not connected.
  const auto outcome = cluster.join(request("a"), {.remote = true}, t0 + 1s);
  CHECK(outcome.reply.accepted);
  CHECK_FALSE(outcome.took_over);
  CHECK(outcome.changes.routability == std::vector<RoutabilityChange>{{"a", true, true}});
  const Member& a = *cluster.find("a");
  CHECK(a.connected);
  CHECK_FALSE(a.lost);
  CHECK(a.load.outstanding == 1);
  CHECK(a.routed == 1);
  CHECK(cluster.loads()[0].name == "a");  // its place is kept
  CHECK(a.load.routable);                 // at once, as a new node
  CHECK(cluster.check(t0 + 1s).empty());
  CHECK(cluster.connected_nodes() == std::vector<std::string>{"a", "b"});
}

TEST_CASE("drain: unknown or gone nodes are unknown; once drained, asking again does nothing") {
  auto cluster = cluster_of();
  CHECK(cluster.drain("nobody", t0).start == DrainStart::unknown);
  CHECK_FALSE(cluster.drain("nobody", t0).known());
  REQUIRE(cluster.join(request("local"), {.remote = false}, t0).reply.accepted);
  REQUIRE(cluster.join(request("remote"), {.remote = true}, t0).reply.accepted);
  REQUIRE(cluster.join(request("gone"), {.remote = true}, t0).reply.accepted);
  cluster.connection_dropped("gone");
  CHECK(cluster.drain("gone", t0).start == DrainStart::unknown);

  const auto local = cluster.drain("local", t0 + 1s);
  CHECK(local.start == DrainStart::started);
  CHECK(local.known());
  CHECK_FALSE(local.tell_node);  // the front's own node only leaves routing
  CHECK(local.changes.routability == std::vector<RoutabilityChange>{{"local", false, true}});
  CHECK(local.changes.lost.empty());

  const auto remote = cluster.drain("remote", t0 + 1s);
  CHECK(remote.start == DrainStart::started);
  CHECK(remote.tell_node);  // it drains as on SIGTERM, then leaves

  const auto again = cluster.drain("remote", t0 + 2s);
  CHECK(again.start == DrainStart::already_draining);
  CHECK(again.known());
  CHECK_FALSE(again.tell_node);  // a second SIGTERM would end it at once
  CHECK(again.changes.empty());

  // Drained, it stays out of routing whatever its health says.
  CHECK(cluster.heard_from("remote", kAdmitting, t0 + 2s).empty());
  CHECK_FALSE(routable(cluster, "remote"));
}

TEST_CASE("draining a node that went silent since the last check tells its requests") {
  auto cluster = cluster_of("m", 3000ms);
  REQUIRE(cluster.join(request("a"), {}, t0).reply.accepted);
  const auto outcome = cluster.drain("a", t0 + 5s);
  CHECK(outcome.start == DrainStart::started);  // connected: known, however silent
  CHECK(outcome.changes.lost == std::vector<std::string>{"a"});
}

TEST_CASE("undrain: unknown, gone, leaving remote nodes, and the front's own node routed again") {
  auto cluster = cluster_of();
  CHECK(cluster.undrain("nobody", t0).result == api::UndrainResult::unknown);
  REQUIRE(cluster.join(request("local"), {.remote = false}, t0).reply.accepted);
  REQUIRE(cluster.join(request("remote"), {.remote = true}, t0).reply.accepted);

  // Never drained: undrained, nothing changes.
  auto never = cluster.undrain("remote", t0);
  CHECK(never.result == api::UndrainResult::undrained);
  CHECK_FALSE(never.was_drained);
  CHECK(never.changes.empty());

  // A remote node told to drain is leaving: it cannot be taken back, and stays drained.
  cluster.drain("remote", t0);
  auto leaving = cluster.undrain("remote", t0);
  CHECK(leaving.result == api::UndrainResult::leaving);
  CHECK(leaving.changes.empty());
  CHECK(cluster.find("remote")->drain_requested);
  // Once its connection is gone it is unknown; rejoining undoes the drain.
  cluster.connection_dropped("remote");
  CHECK(cluster.undrain("remote", t0).result == api::UndrainResult::unknown);
  REQUIRE(cluster.join(request("remote"), {.remote = true}, t0 + 1s).reply.accepted);
  CHECK_FALSE(cluster.find("remote")->drain_requested);

  // The front's own node serves again.
  cluster.drain("local", t0);
  auto local = cluster.undrain("local", t0 + 1s);
  CHECK(local.result == api::UndrainResult::undrained);
  CHECK(local.was_drained);
  CHECK(local.changes.routability == std::vector<RoutabilityChange>{{"local", true, true}});
  CHECK(routable(cluster, "local"));
}

TEST_CASE("undrain answers undrained for a node draining by its own health, which stays out") {
  // Today's router: the answer speaks of troupe drain only (see WIRING.md, questionable).
  auto cluster = cluster_of();
  REQUIRE(cluster.join(request("a"), {}, t0).reply.accepted);
  cluster.heard_from("a", {true, false, true, "draining", 0, {}}, t0);
  const auto outcome = cluster.undrain("a", t0);
  CHECK(outcome.result == api::UndrainResult::undrained);
  CHECK_FALSE(outcome.was_drained);
  CHECK_FALSE(routable(cluster, "a"));
}

TEST_CASE("requests routed and released are counted, never below zero, and show in the status") {
  auto cluster = cluster_of();
  REQUIRE(cluster.join(request("a", 2.0), {}, t0).reply.accepted);
  cluster.routed_to("a");
  cluster.routed_to("a");
  cluster.released("a");
  cluster.released("a");
  cluster.released("a");
  cluster.routed_to("nobody");
  cluster.released("nobody");
  wire::HealthReport report = kAdmitting;
  report.replicas.push_back(replica("r0", 4, 1, 3, 7, 5));
  cluster.heard_from("a", report, t0);
  cluster.routed_to("a");
  const auto statuses = cluster.statuses();
  REQUIRE(statuses.size() == 1);
  wire::NodeStatus expected{"a", true, true, 1, 3, 4, 0.25, 2.0, 7, 5, 1};
  expected.capacity = 8;                            // the join's
  expected.served = metrics::no_requests_served();  // released without measures
  CHECK(statuses[0] == expected);
  CHECK(cluster.loads()[0].outstanding == 1);
}

TEST_CASE("what the front measured of each attempt adds up in the node's status") {
  auto cluster = cluster_of();
  REQUIRE(cluster.join(request("a"), {}, t0).reply.accepted);
  REQUIRE(cluster.join(request("b"), {}, t0).reply.accepted);
  auto attempt = [](double ttft, std::vector<double> gaps, bool failed) {
    wire::ServedRequests served = metrics::no_requests_served();
    if (ttft >= 0) metrics::observe(served.time_to_first_token, ttft);
    for (double gap : gaps) metrics::observe(served.inter_token_latency, gap);
    served.attempts = 1;
    served.failed = failed ? 1 : 0;
    return served;
  };
  for (int i = 0; i < 3; ++i) cluster.routed_to("a");
  cluster.released("a", attempt(0.03, {0.02, 0.02}, false));
  cluster.released("a", attempt(0.3, {0.2}, false));
  cluster.released("a", attempt(-1, {}, true));  // failed before its first token
  // Measures on other bounds (a peer of another release) are not added to the wrong buckets.
  wire::ServedRequests odd = attempt(0.03, {}, false);
  odd.time_to_first_token.bounds = {1.0};
  odd.time_to_first_token.counts = {1, 0};
  cluster.routed_to("b");
  cluster.released("b", odd);

  const auto statuses = cluster.statuses();
  const wire::ServedRequests& a = statuses[0].served;
  CHECK(a.attempts == 3);
  CHECK(a.failed == 1);
  const auto& ttft = a.time_to_first_token;
  REQUIRE(ttft.bounds == metrics::kTimeToFirstTokenBounds);
  REQUIRE(ttft.counts.size() == ttft.bounds.size() + 1);
  CHECK(ttft.counts[metrics::bucket_of(ttft.bounds, 0.03)] == 1);  // in (0.02, 0.04]
  CHECK(ttft.counts[metrics::bucket_of(ttft.bounds, 0.3)] == 1);   // in (0.25, 0.5]
  CHECK(std::accumulate(ttft.counts.begin(), ttft.counts.end(), int64_t{0}) == 2);
  CHECK(ttft.sum == Approx(0.33));
  const auto& itl = a.inter_token_latency;
  CHECK(std::accumulate(itl.counts.begin(), itl.counts.end(), int64_t{0}) == 3);
  CHECK(itl.counts[metrics::bucket_of(itl.bounds, 0.02)] == 2);
  CHECK(itl.sum == Approx(0.24));

  const wire::ServedRequests& b = statuses[1].served;
  CHECK(b.attempts == 1);
  CHECK(std::accumulate(b.time_to_first_token.counts.begin(), b.time_to_first_token.counts.end(),
                        int64_t{0}) == 0);
}
