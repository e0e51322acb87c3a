// The autoscaling policy over simulated traces (tests/autoscale/cluster_simulation.hpp) and over
// hand-made windows: no flapping on noise, cooldowns honoured, panic within one tick, the
// scale-down safety check, capacity on the way, a replica that never becomes ready, SLO mode.
#include <catch2/catch.hpp>
#include <cmath>

#include "autoscale/policy.hpp"
#include "tests/autoscale/cluster_simulation.hpp"

using namespace troupe::autoscale;
using namespace troupe::autoscale::testing;
using namespace std::chrono_literals;

namespace {

// One rule on the batch per replica: up above 6 of 8 running, down below 3.
PolicyConfig running_rule_config(int32_t min_replicas, int32_t max_replicas) {
  PolicyConfig config;
  config.min_replicas = min_replicas;
  config.max_replicas = max_replicas;
  config.rules = {{"batch", Metric::running_per_replica, 6.0, 3.0, 1, 1, 30s}};
  config.scale_up_cooldown = 15s;
  config.scale_down_cooldown = 120s;
  return config;
}

ClusterSample sample_at(TimePoint at, std::vector<NodeSample> nodes) {
  ClusterSample s;
  s.at = at;
  s.nodes = std::move(nodes);
  return s;
}

NodeSample node(std::string name, int32_t running, int32_t waiting = 0) {
  NodeSample n;
  n.name = std::move(name);
  n.ready = true;
  n.running = running;
  n.waiting = waiting;
  n.capacity = 8;
  return n;
}

// `count` samples a second apart, every node with the same load.
std::vector<ClusterSample> steady_window(int32_t replicas, int32_t running, int count = 40) {
  std::vector<ClusterSample> window;
  for (int i = 0; i < count; ++i) {
    std::vector<NodeSample> nodes;
    for (int32_t r = 0; r < replicas; ++r) nodes.push_back(node("r" + std::to_string(r), running));
    window.push_back(sample_at(TimePoint{} + std::chrono::seconds(1000 + i), nodes));
  }
  return window;
}

}  // namespace

TEST_CASE("a quantile between two histograms interpolates inside its bucket") {
  LatencyHistogram before{{0.1, 0.2, 0.4}, {0, 0, 0, 0}};
  LatencyHistogram after = before;
  after.counts = {10, 10, 0, 0};  // 10 under 0.1 s, 10 in (0.1, 0.2]
  CHECK(*quantile_between(before, after, 0.5) == 0.1);
  CHECK(std::abs(*quantile_between(before, after, 0.75) - 0.15) < 1e-12);
  before.counts = {10, 0, 0, 0};  // only the increase counts: 10 in (0.1, 0.2]
  CHECK(std::abs(*quantile_between(before, after, 0.9) - 0.19) < 1e-12);
  CHECK_FALSE(quantile_between(after, after, 0.9));  // nothing observed in between
  after.counts = {0, 0, 0, 5};  // all over the last bound: the histogram knows no more than 0.4
  CHECK(*quantile_between(before, after, 0.9) == 0.4);
}

TEST_CASE("per-replica metrics average the ready replicas over the window") {
  auto window = steady_window(2, 4, 10);
  window.back().nodes[0].running = 8;  // one late sample: (9 x 4 + 6) / 10
  window.back().nodes.push_back(node("draining", 0));
  window.back().nodes.back().ready = false;  // not ready: not counted
  CHECK(std::abs(*measure(window, Metric::running_per_replica, 60s) - 4.2) < 1e-9);
  CHECK(*measure(window, Metric::running_per_replica, 1s) == 6.0);  // only the newest sample
  CHECK(*measure(window, Metric::batch_occupancy, 1s) == 0.75);
  CHECK_FALSE(measure(window, Metric::ttft_p90_ms, 60s));  // no request ended: no latency
  CHECK_FALSE(measure(window, Metric::error_rate, 60s));
}

TEST_CASE("utilisation is the rate of the workers' busy time") {
  auto window = steady_window(1, 4, 3);
  window[0].nodes[0].busy_seconds = 10;
  window[1].nodes[0].busy_seconds = 10.5;
  window[2].nodes[0].busy_seconds = 10.7;
  CHECK(std::abs(*measure(window, Metric::utilisation, 10s) - 0.35) < 1e-9);
  CHECK_FALSE(measure(std::span(window).first(1), Metric::utilisation, 10s));  // one sample
}

TEST_CASE("each node's load, latency and error rate over the window, worst first") {
  const LatencyHistogram empty{{0.1, 0.5, 1.0}, {0, 0, 0, 0}};
  auto window = steady_window(2, 4, 3);
  for (ClusterSample& sample : window) {
    sample.time_to_first_token = empty;
    for (NodeSample& n : sample.nodes) n.time_to_first_token = empty;
  }
  window[0].nodes[1].time_to_first_token.counts = {5, 0, 0, 0};  // before the window: not counted
  ClusterSample& newest = window.back();
  newest.nodes[0].time_to_first_token.counts = {10, 0, 0, 0};  // r0: all under 100 ms
  newest.nodes[1].time_to_first_token.counts = {5, 0, 10, 0};  // r1: 10 more in (0.5, 1]
  newest.time_to_first_token.counts = {10, 0, 10, 0};          // the front's: both together
  newest.nodes[0].attempts = 10;
  newest.nodes[1].attempts = 10;
  newest.nodes[1].failed = 2;
  newest.nodes[1].running = 8;

  // A latency rule over its threshold names the node the latency comes from.
  PolicyConfig config = running_rule_config(1, 4);
  config.rules = {{"ttft", Metric::ttft_p90_ms, 500, 100, 1, 1, 10s}};
  const Decision d = decide(window, config, {});
  CHECK(d.desired == 3);
  CHECK(d.reason.find("ttft_p90_ms 900 > 500") != std::string::npos);
  CHECK(d.reason.find("highest on r1: 950") != std::string::npos);

  newest.nodes.push_back(node("new", 1));  // joined in the newest sample: no latency yet

  const auto ttft = measure_per_node(window, Metric::ttft_p90_ms, 10s);
  REQUIRE(ttft.size() == 2);
  CHECK(ttft[0].node == "r1");
  CHECK(std::abs(ttft[0].value - 950) < 1e-6);  // 9 of 10 into (0.5, 1]
  CHECK(ttft[1].node == "r0");
  CHECK(std::abs(ttft[1].value - 90) < 1e-6);
  const auto errors = measure_per_node(window, Metric::error_rate, 10s);
  REQUIRE(errors.size() == 2);
  CHECK((errors[0].node == "r1" && errors[0].value == 0.2));
  CHECK((errors[1].node == "r0" && errors[1].value == 0.0));
  const auto running = measure_per_node(window, Metric::running_per_replica, 1s);
  REQUIRE(running.size() == 3);
  CHECK((running[0].node == "r1" && running[0].value == 8));
  CHECK(running[2].node == "new");
}

TEST_CASE("panic passes the up cooldown when a rule's vote ties with it") {
  // The rule asks as much as panic does, and its vote came first: it won the tie, was not a
  // panic vote, and the up cooldown held the whole scale-up.
  PolicyConfig config = running_rule_config(1, 8);
  config.rules = {{"queue", Metric::queue_per_replica, 1.0, 0.1, 58, 1, 60s}};
  auto window = steady_window(2, 4);
  for (auto& sample : window) {
    for (auto& n : sample.nodes) n.waiting = 30;  // 30 queued per replica: panic asks for 60
  }
  PolicyState state;
  state.last_scale_up = window.back().at - 1s;  // within the 15 s up cooldown
  const Decision d = decide(window, config, state);
  CHECK(d.panic);
  CHECK(d.desired > d.current);
  CHECK(d.reason.find("held") == std::string::npos);
}

TEST_CASE("a NaN from a node neither panics nor scales") {
  // kv_usage arrives over the wire: a NaN passed the panic check (value < threshold is false)
  // and was cast to an int (undefined), which left the autoscaler in panic for good.
  PolicyConfig config = running_rule_config(1, 6);
  config.rules = {{"kv", Metric::kv_usage, 0.8, 0.2, 1, 1, 30s}};
  auto window = steady_window(2, 4);
  for (auto& sample : window) {
    for (auto& n : sample.nodes) n.kv_usage = std::nan("");
  }
  const Decision d = decide(window, config, {});
  CHECK_FALSE(d.panic);
  CHECK(d.desired >= config.min_replicas);
  CHECK(d.desired <= config.max_replicas);
}

TEST_CASE("a fresh autoscaler does not shrink before it has seen a stable window") {
  const PolicyConfig config = running_rule_config(1, 4);  // a 30 s window, down below 3
  const auto idle = steady_window(2, 0, 40);              // 39 s of two idle replicas
  const Decision fresh = decide(std::span(idle).last(10), config, {});  // 9 s of them
  CHECK(fresh.desired == 2);
  CHECK(fresh.reason.find("the stable window is 30 s") != std::string::npos);
  CHECK(decide(idle, config, {}).desired == 1);
}

TEST_CASE("a configuration that cannot work is refused with the reason") {
  PolicyConfig config = running_rule_config(1, 3);
  CHECK_FALSE(check(config));
  config.min_replicas = 4;
  CHECK(check(config)->find("above max replicas") != std::string::npos);
  config = running_rule_config(1, 3);
  config.rules[0].scale_down_below = 7;  // no band
  CHECK(check(config)->find("must be under scale_up_above") != std::string::npos);
  config.rules.clear();
  CHECK(check(config)->find("nothing to scale on") != std::string::npos);
  config.slo.itl_ms = 50;
  CHECK_FALSE(check(config));
}

TEST_CASE("a ramp scales up step by step and never down") {
  ClusterSimulation sim(running_rule_config(1, 6), 1);
  for (int second = 0; second < 600; ++second) sim.tick(40.0 * second / 600);
  sim.run(40, 180s);
  CHECK(sim.reversals() == 0);
  for (const Decision& d : sim.scale_events()) CHECK(d.desired > d.current);
  CHECK(sim.ready() == 6);  // 40 streams need 7 at 6 per replica: the maximum holds at 6
  // The up cooldown: no two scale-ups closer than 15 s apart, except by panic.
  const auto events = sim.scale_events();
  for (size_t i = 1; i < events.size(); ++i)
    if (!events[i].panic) CHECK(events[i].at - events[i - 1].at >= 15s);
}

TEST_CASE("a spike scales up within one tick through the panic window") {
  PolicyConfig config = running_rule_config(2, 8);
  config.rules = {{"queue", Metric::queue_per_replica, 1.0, 0.1, 1, 1, 60s}};
  ClusterSimulation sim(config, 2);
  sim.run(4, 120s);  // quiet: 2 per replica, no queue
  REQUIRE(sim.replicas() == 2);
  const Decision& d = sim.tick(60);  // 30 per replica: 22 queued each
  CHECK(d.panic);
  CHECK(d.desired >= d.current + 2);  // more than a rule's step of 1
  CHECK(d.reason.find("panic") == 0);
  // Panic passes the up cooldown: another panic step follows 1 s later if the load needs it.
  const Decision& next = sim.tick(60);
  CHECK(next.panic);
  // While in panic nothing scales down, even when the load vanishes at once.
  sim.run(0, 50s);
  for (size_t i = sim.decisions().size() - 50; i < sim.decisions().size(); ++i)
    CHECK(sim.decisions()[i].desired >= sim.decisions()[i].current);
}

TEST_CASE("a slow decline scales down one step at a time, each after the down cooldown") {
  ClusterSimulation sim(running_rule_config(1, 6), 5);
  sim.run(30, 60s);
  REQUIRE(sim.replicas() == 5);
  for (int second = 0; second < 1800; ++second) sim.tick(30.0 - 28.0 * second / 1800);
  sim.run(2, 600s);
  CHECK(sim.reversals() == 0);
  const auto events = sim.scale_events();
  REQUIRE(events.size() == 4);  // 5 -> 1
  for (size_t i = 0; i < events.size(); ++i) {
    CHECK(events[i].desired == events[i].current - 1);
    if (i > 0) CHECK(events[i].at - events[i - 1].at >= 120s);
  }
  CHECK(sim.replicas() == 1);
}

TEST_CASE("noise around a threshold does not flap") {
  PolicyConfig config = running_rule_config(1, 6);
  ClusterSimulation sim(config, 2);
  // 11 to 13 streams over 2 replicas: 5.5 to 6.5 per replica, around the scale-up threshold of 6.
  uint32_t noise = 12345;
  for (int second = 0; second < 3600; ++second) {
    noise = noise * 1103515245 + 12345;
    sim.tick(11.0 + 2.0 * ((noise >> 16) % 1000) / 1000.0);
  }
  CHECK(sim.reversals() == 0);
  CHECK(sim.scale_events().size() <= 1);  // at most one step up, which settles it
}

TEST_CASE("the scale-down safety check refuses when the rest would be overloaded") {
  const PolicyConfig config = running_rule_config(1, 4);
  // 2 replicas at 3.5 of 8: under the down threshold 4 of a rule with band [4, 6]...
  PolicyConfig tight = config;
  tight.rules[0].scale_down_below = 4;
  const auto window = steady_window(2, 3);  // 3 per replica: 6 on one replica = the up threshold
  const Decision d = decide(window, tight, PolicyState{});
  CHECK(d.desired == 2);
  CHECK(d.reason.find("would be 6 >= 6") != std::string::npos);
  // ... while 2 per replica (4 on one) is safe, and it goes.
  const Decision safe = decide(steady_window(2, 2), tight, PolicyState{});
  CHECK(safe.desired == 1);
}

TEST_CASE("the rule asking for the most replicas wins, and all must agree to shrink") {
  PolicyConfig config = running_rule_config(1, 5);
  config.rules.push_back({"queue", Metric::queue_per_replica, 2.0, 0.5, 2, 1, 30s});
  auto window = steady_window(2, 2);  // batch rule: down
  for (ClusterSample& s : window)
    for (NodeSample& n : s.nodes) n.waiting = 1;  // queue rule: within its band, holds
  Decision d = decide(window, config, PolicyState{});
  CHECK(d.desired == 2);
  CHECK(d.rule == "queue");
  for (ClusterSample& s : window)
    for (NodeSample& n : s.nodes) n.waiting = 3;  // queue rule: up by its step of 2
  d = decide(window, config, PolicyState{});
  CHECK(d.desired == 4);
  CHECK(d.rule == "queue");
}

TEST_CASE("replicas still starting count as capacity on the way") {
  const PolicyConfig config = running_rule_config(1, 5);
  auto window = steady_window(1, 8);  // 8 per replica, over 6: up
  CHECK(decide(window, config, PolicyState{}).desired == 2);
  window.back().starting = {window.back().at - 5s};  // one asked for 5 s ago: 4 per replica
  const Decision d = decide(window, config, PolicyState{});
  CHECK(d.current == 2);
  CHECK(d.desired == 2);
  CHECK(d.reason.find("starting replica(s) will take it") != std::string::npos);
}

TEST_CASE("a replica that never becomes ready is replaced after the ready timeout, once") {
  PolicyConfig config = running_rule_config(1, 3);
  config.ready_timeout = 60s;
  ClusterSimulation sim(config, 1);
  sim.replicas_never_ready = true;
  sim.run(10, 59s);  // 10 per replica: asks for one more
  REQUIRE(sim.scale_events().size() == 1);
  CHECK(sim.replicas() == 2);
  sim.run(10, 30s);  // the first one times out 60 s after it was asked for; then one more
  const auto events = sim.scale_events();
  REQUIRE(events.size() == 2);
  CHECK(events[1].at - events[0].at >= 60s);
  CHECK(events[1].stuck == 1);
  CHECK(events[1].desired == 2);  // a replacement, not two: the stuck one is not counted
}

TEST_CASE("cooldowns: fast up, slow down, each honoured") {
  PolicyConfig config = running_rule_config(1, 5);
  PolicyState state;
  const auto up = steady_window(1, 8);
  Decision first = decide(up, config, state);
  REQUIRE(first.desired == 2);
  state = remember(state, first, config);
  // 10 s later the load still says up: held by the 15 s up cooldown.
  auto later = steady_window(2, 8);
  for (ClusterSample& s : later) s.at += 10s;
  Decision held = decide(later, config, state);
  CHECK(held.desired == held.current);
  CHECK(held.reason.find("up cooldown") != std::string::npos);
  for (ClusterSample& s : later) s.at += 6s;  // 16 s after: allowed
  CHECK(decide(later, config, state).desired == 3);
  // A scale-down within 120 s of the last scale event is held; after it, allowed.
  auto quiet = steady_window(2, 1);
  for (ClusterSample& s : quiet) s.at = s.at - up.back().at + first.at + 100s;
  Decision down = decide(quiet, config, state);
  CHECK(down.desired == 2);
  CHECK(down.reason.find("down cooldown") != std::string::npos);
  for (ClusterSample& s : quiet) s.at += 21s;
  CHECK(decide(quiet, config, state).desired == 1);
}

TEST_CASE("min and max bound the cluster at once, past the cooldowns") {
  PolicyConfig config = running_rule_config(2, 3);
  PolicyState state;
  state.last_scale = state.last_scale_up = TimePoint{} + 1039s;  // just scaled
  Decision d = decide(steady_window(1, 1), config, state);
  CHECK(d.desired == 2);
  CHECK(d.rule == "min_replicas");
  d = decide(steady_window(5, 1), config, state);
  CHECK(d.desired == 3);
  CHECK(d.rule == "max_replicas");
  d = decide(steady_window(3, 8), config, PolicyState{});  // wants 4, max is 3
  CHECK(d.desired == 3);
}

TEST_CASE("the step limit per period caps how far one period moves") {
  PolicyConfig config = running_rule_config(1, 10);
  config.max_scale_up_per_period = 3;
  PolicyState state;
  state.events = {{TimePoint{} + 1010s, 1, 3}};  // 2 up within the last 60 s
  state.last_scale = state.last_scale_up = TimePoint{} + 1010s;
  auto window = steady_window(3, 8);
  for (ClusterSample& s : window) s.at += 0s;
  window.back().nodes[0].waiting = 50;  // a queue rule would panic; this one steps
  const Decision d = decide(window, config, state);
  CHECK(d.desired == 4);  // one more allowed this period
}

TEST_CASE("SLO mode converges on the fewest replicas that meet the targets, and stays") {
  PolicyConfig config;
  config.min_replicas = 1;
  config.max_replicas = 10;
  config.slo.itl_ms = 25;  // 10 ms x (1 + running / 4): met at 6 running per replica
  config.scale_up_cooldown = 15s;
  config.scale_down_cooldown = 120s;
  ClusterSimulation sim(config, 1, 32);
  sim.run(30, 900s);
  // The fewest replicas whose ITL meets 25 ms at 30 streams: 30 / 6 = 5.
  CHECK(sim.ready() == 5);
  const auto events = sim.scale_events();
  REQUIRE_FALSE(events.empty());
  CHECK(sim.now() - events.back().at >= 600s);  // converged in the first 5 minutes
  CHECK(sim.reversals() == 0);
  // Load halves: it shrinks while the projected latency stays within the band, and stops.
  sim.run(15, 1800s);
  CHECK(sim.reversals() <= 1);
  CHECK(sim.ready() >= 3);  // 15 streams need 3 at 6 per replica
  CHECK(sim.ready() <= 4);
}
