// Failover policy: which failures move a request to another node and when it ends instead, the
// grace of a stream whose node was lost, and the replica's restart backoff. Time is a parameter.
#include <catch2/catch.hpp>

#include "engine/serve/generate_request.hpp"
#include "net/cluster/failover.hpp"

using namespace troupe;
using namespace troupe::cluster;
using namespace std::chrono_literals;

TEST_CASE("node failures: unavailable, worker_failed, draining; not the request's own errors") {
  CHECK(is_node_failure(request_error::kUnavailable));
  CHECK(is_node_failure(request_error::kWorkerFailed));
  CHECK(is_node_failure(request_error::kDraining));
  CHECK_FALSE(is_node_failure(""));
  CHECK_FALSE(is_node_failure(request_error::kInvalid));
  CHECK_FALSE(is_node_failure(request_error::kContextLength));
  CHECK_FALSE(is_node_failure(request_error::kOverloaded));
  CHECK_FALSE(is_node_failure(request_error::kTimeout));
}

TEST_CASE("a failed attempt moves on while nothing streamed, on at most three nodes in all") {
  CHECK(kMaxAttempts == 3);
  CHECK(after_failure({1, false}) == FailoverStep::retry_elsewhere);
  CHECK(after_failure({2, false}) == FailoverStep::retry_elsewhere);
  CHECK(after_failure({3, false}) == FailoverStep::end);
  CHECK(after_failure({1, true}) == FailoverStep::end);
}

TEST_CASE("an attempt's end fails over only for a node failure") {
  CHECK(after_end({1, false}, "") == FailoverStep::end);  // completed
  CHECK(after_end({1, false}, request_error::kOverloaded) == FailoverStep::end);
  CHECK(after_end({1, false}, request_error::kTimeout) == FailoverStep::end);
  CHECK(after_end({1, false}, request_error::kWorkerFailed) == FailoverStep::retry_elsewhere);
  CHECK(after_end({2, false}, request_error::kDraining) == FailoverStep::retry_elsewhere);
  CHECK(after_end({3, false}, request_error::kUnavailable) == FailoverStep::end);
  CHECK(after_end({1, true}, request_error::kWorkerFailed) == FailoverStep::end);
}

TEST_CASE("a lost node fails a request over before it streamed, and gives a stream its grace") {
  CHECK(after_node_lost({1, false}, "a", "b") == FailoverStep::ignore);
  CHECK(after_node_lost({0, false}, "a", "") == FailoverStep::ignore);  // not routed yet
  CHECK(after_node_lost({1, false}, "a", "a") == FailoverStep::retry_elsewhere);
  CHECK(after_node_lost({3, false}, "a", "a") == FailoverStep::end);
  CHECK(after_node_lost({1, true}, "a", "a") == FailoverStep::wait_out_grace);
  CHECK(after_node_lost({3, true}, "a", "a") == FailoverStep::wait_out_grace);
}

TEST_CASE("the grace lasts one second and cuts only the attempt it was set for") {
  const auto lost_at = std::chrono::steady_clock::time_point{} + 5s;
  CHECK(stream_cut_at(lost_at) == lost_at + 1s);
  CHECK(kStreamGrace == 1s);
  CHECK(after_grace(2, 2) == FailoverStep::end);
  CHECK(after_grace(1, 2) == FailoverStep::ignore);
}

TEST_CASE("failover ends are worded as the front words them") {
  CHECK(no_replica_message("no routable replica node") ==
        "no replica to serve the request: no routable replica node");
  CHECK(node_lost_message("pod-1") == "the node serving this request (pod-1) stopped answering");
  CHECK(std::string(kServerDrainingMessage) == "the server is draining: try another replica");
}

TEST_CASE("restart backoff doubles from the first wait up to the maximum") {
  const RestartBackoff policy;  // 100 ms, 10 s, stable after 30 s
  const auto t0 = std::chrono::steady_clock::time_point{} + 1h;
  std::chrono::milliseconds wait{0};
  std::vector<std::chrono::milliseconds> waits;
  for (int i = 0; i < 10; ++i) {
    wait = next_backoff(policy, wait, t0, t0 + 1s);  // each worker crashed within a second
    waits.push_back(wait);
  }
  CHECK(waits == std::vector<std::chrono::milliseconds>{100ms, 200ms, 400ms, 800ms, 1600ms, 3200ms,
                                                        6400ms, 10000ms, 10000ms, 10000ms});
  for (int n = 1; n <= 10; ++n) CHECK(backoff_for_restart(policy, n) == waits[n - 1]);
  CHECK(backoff_for_restart(policy, 1000000) == 10s);
}

TEST_CASE("a worker that stayed up stable_after starts the backoff over, exactly at the mark") {
  const RestartBackoff policy{100ms, 10s, 30s};
  const auto started = std::chrono::steady_clock::time_point{} + 1h;
  CHECK(next_backoff(policy, 6400ms, started, started + 30s) == 100ms);
  CHECK(next_backoff(policy, 6400ms, started, started + 30s - 1ms) == 10s);
  CHECK(next_backoff(policy, 800ms, started, started + 29s) == 1600ms);
  // A first wait above the maximum is used as it is once, then the maximum.
  const RestartBackoff odd{500ms, 300ms, 30s};
  CHECK(next_backoff(odd, 0ms, started, started) == 500ms);
  CHECK(next_backoff(odd, 500ms, started, started) == 300ms);
  CHECK(backoff_for_restart(odd, 1) == 500ms);
  CHECK(backoff_for_restart(odd, 2) == 300ms);
}

TEST_CASE("a worker crash restarts the worker; a scheduler crash restarts both") {
  CHECK(restart_plan(ReplicaPart::worker, false) == RestartPlan{false, false, true});
  CHECK(restart_plan(ReplicaPart::scheduler, true) == RestartPlan{true, true, true});
  // Its worker already down (waiting out a backoff): nothing to stop.
  CHECK(restart_plan(ReplicaPart::scheduler, false) == RestartPlan{false, true, true});
}
