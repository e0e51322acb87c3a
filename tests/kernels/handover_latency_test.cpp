#include "kernels/cpu/handover_latency.hpp"

#include <catch2/catch.hpp>

using namespace troupe;

TEST_CASE("a cache line's round trip between two of a pool's threads takes a measurable time") {
  ThreadPool two(2);
  const double ns = handover_round_trip_ns(two, 2000);
  CHECK(ns > 1);    // a round trip through the caches, not a value never stored
  CHECK(ns < 1e6);  // not a millisecond: both threads kept going
  ThreadPool one(1);
  CHECK(handover_round_trip_ns(one) == 0);  // nothing to bounce
}
