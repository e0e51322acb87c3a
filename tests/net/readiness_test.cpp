// Readiness: a node's (its health monitor's policy, and when subscribers hear of it) and a
// routing front's. Time is a parameter: no sleeping.
#include <catch2/catch.hpp>

#include "net/cluster/readiness.hpp"

using namespace troupe;
using namespace troupe::cluster;
using namespace std::chrono_literals;

namespace {

const auto t0 = std::chrono::steady_clock::time_point{} + 1h;

wire::WorkerStatus worker(std::string replica, bool up, int32_t restarts = 0) {
  return {std::move(replica), up, restarts, up ? "" : "crashed"};
}

}  // namespace

TEST_CASE("a node is ready while a running worker reported within stale_after, exclusive") {
  NodeReadiness node(10s);
  auto report = node.report(t0);
  CHECK_FALSE(report.ready);
  CHECK(report.reason == "no replica has started yet");

  node.worker_status(worker("r0", true), t0);  // coming up counts as a report
  CHECK(node.report(t0).ready);
  CHECK(node.report(t0).reason.empty());
  CHECK(node.report(t0 + 10s - 1ns).ready);
  CHECK_FALSE(node.report(t0 + 10s).ready);
  CHECK(node.report(t0 + 10s).reason == "no replica has a running worker that reported recently");

  node.stats({.replica = "r0", .running = 2, .tensor_parallel_ranks = {}}, t0 + 9s);
  CHECK(node.report(t0 + 18s).ready);
  CHECK(node.report(t0 + 18s).replicas.at(0).running == 2);

  // A worker down is not ready, however recent its statistics.
  node.worker_status(worker("r0", false, 1), t0 + 18s);
  CHECK_FALSE(node.report(t0 + 18s).ready);
  CHECK(node.report(t0 + 18s).restarts == 1);
  // Any replica up and fresh makes it ready; restarts add up.
  node.worker_status(worker("r1", true, 2), t0 + 18s);
  CHECK(node.report(t0 + 18s).ready);
  CHECK(node.report(t0 + 18s).restarts == 3);
  CHECK(node.report(t0 + 18s).replicas.size() == 2);
}

TEST_CASE("a node's readiness defaults to the health monitor's setup: stale after 10 s") {
  NodeReadiness node;
  CHECK(node.stale_after() == 10s);
  CHECK_FALSE(node.to_publish(t0));
}

TEST_CASE("a draining node is not ready, with draining as its reason") {
  NodeReadiness node(10s);
  node.worker_status(worker("r0", true), t0);
  node.drain();
  const auto report = node.report(t0);
  CHECK(report.draining);
  CHECK_FALSE(report.ready);
  CHECK(report.reason == "draining");
  CHECK(report.live);
}

TEST_CASE("subscribers hear a report only when readiness, draining, reason or restarts change") {
  NodeReadiness node(10s);
  CHECK(node.recheck_every() == 5s);
  CHECK_FALSE(node.to_publish(t0));  // as it started: nothing to tell
  node.stats({.replica = "r0", .waiting = 1, .tensor_parallel_ranks = {}}, t0);
  auto published = node.to_publish(t0);  // the reason changed
  REQUIRE(published);
  CHECK(published->reason == "no replica has a running worker that reported recently");
  node.stats({.replica = "r0", .waiting = 9, .tensor_parallel_ranks = {}},
             t0 + 1s);  // statistics alone: no news
  CHECK_FALSE(node.to_publish(t0 + 1s));

  node.worker_status(worker("r0", true), t0 + 2s);
  published = node.to_publish(t0 + 2s);
  REQUIRE(published);
  CHECK(published->ready);
  CHECK_FALSE(node.to_publish(t0 + 3s));
  // Staleness shows with time alone.
  published = node.to_publish(t0 + 12s);
  REQUIRE(published);
  CHECK_FALSE(published->ready);
  CHECK_FALSE(node.to_publish(t0 + 13s));
  node.drain();
  REQUIRE(node.to_publish(t0 + 13s));
  wire::HealthReport restarted, with_stats;
  restarted.restarts = 1;
  with_stats.replicas.push_back({.replica = "r0", .waiting = 3, .tensor_parallel_ranks = {}});
  CHECK(worth_publishing(restarted, wire::HealthReport{}));
  CHECK_FALSE(worth_publishing(with_stats, wire::HealthReport{}));
}

TEST_CASE("a routing front is ready while some cluster node is routable and it is not draining") {
  const wire::HealthReport local{true, false, false, "no replica has started yet", 2, {}};
  std::vector<wire::NodeStatus> nodes{{.name = "a", .routable = false},
                                      {.name = "b", .routable = false}};
  auto report = routing_front_health(local, nodes);
  CHECK_FALSE(report.ready);
  CHECK(report.reason == "no cluster node is routable");
  CHECK(report.restarts == 2);  // the rest is its own node's

  nodes[1].routable = true;
  report = routing_front_health(local, nodes);
  CHECK(report.ready);
  CHECK(report.reason.empty());

  CHECK_FALSE(routing_front_health(local, {}).ready);

  // Draining: not ready. Today's front then clears the reason (see WIRING.md, questionable).
  wire::HealthReport draining = local;
  draining.draining = true;
  draining.reason = "draining";
  report = routing_front_health(draining, nodes);
  CHECK_FALSE(report.ready);
  CHECK(report.reason.empty());
}
