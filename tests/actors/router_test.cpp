// The router actor's join rules and routing bookkeeping, on a real actor system with plain actors
// standing in for nodes (no model, no network).
#include <atomic>
#include <caf/all.hpp>
#include <catch2/catch.hpp>
#include <memory>
#include <optional>
#include <utility>

#include "actors/router.hpp"
#include "net/metrics/latency_counts.hpp"

using namespace troupe;

namespace {

// A node that answers health polls as live and admitting.
caf::behavior healthy_node(caf::event_based_actor*) {
  return {[](health_atom) { return wire::HealthReport{true, true, false, "", 0, {}}; }};
}

// A node that never answers the router's probes: a hung process, still connected.
caf::behavior mute_node(caf::event_based_actor*) {
  return {[](health_atom) -> caf::result<wire::HealthReport> {
    return caf::make_error(caf::sec::request_timeout);
  }};
}

// Time as the router sees it: moved by the test, never by waiting.
struct TestClock {
  std::shared_ptr<std::atomic<int64_t>> ms = std::make_shared<std::atomic<int64_t>>(0);
  std::chrono::steady_clock::time_point now() const {
    return std::chrono::steady_clock::time_point(std::chrono::milliseconds(ms->load()));
  }
  void advance(std::chrono::milliseconds by) const { *ms += by.count(); }
};

// A router on `clock` that marks a node down after `unhealthy_after` of silence. Its own poll
// timer never fires in a test: the test sends (tick) when it wants a poll.
caf::actor test_router(caf::actor_system& system, const TestClock& clock,
                       std::chrono::milliseconds unhealthy_after) {
  RouterSetup setup{cluster::RoutingStrategy::round_robin, "m"};
  setup.unhealthy_after = unhealthy_after;
  setup.poll = std::chrono::hours(1);
  setup.clock = [clock] { return clock.now(); };
  return spawn_router(system, setup);
}

// The router's choice for a request: the node's name and handle, or nullopt when it refuses.
std::optional<std::pair<std::string, caf::actor>> route(caf::scoped_actor& self,
                                                        const caf::actor& router,
                                                        std::vector<std::string> excluded = {}) {
  std::optional<std::pair<std::string, caf::actor>> chosen;
  self->request(router, std::chrono::seconds(5), route_atom::value, uint64_t{0}, excluded)
      .receive([&](std::string& name, caf::actor& node) { chosen.emplace(name, node); },
               [](caf::error&) {});
  return chosen;
}

wire::ClusterStatus status(caf::scoped_actor& self, const caf::actor& router) {
  wire::ClusterStatus result;
  self->request(router, std::chrono::seconds(5), status_atom::value)
      .receive([&](wire::ClusterStatus& s) { result = std::move(s); },
               [&](caf::error& e) { FAIL(self->system().render(e)); });
  return result;
}

wire::JoinReply join(caf::scoped_actor& self, const caf::actor& router, wire::JoinRequest request,
                     const caf::actor& node) {
  wire::JoinReply reply;
  self->request(router, std::chrono::seconds(5), join_atom::value, request, node)
      .receive([&](wire::JoinReply& r) { reply = r; },
               [&](caf::error& e) { FAIL(self->system().render(e)); });
  return reply;
}

}  // namespace

TEST_CASE("the router refuses other protocols, other models and taken names, naming why") {
  caf::actor_system_config config;
  configure_actor_system(config);
  caf::actor_system system{config};
  caf::scoped_actor self{system};
  auto router = spawn_router(system, RouterSetup{cluster::RoutingStrategy::round_robin, "model-a"});
  auto a = system.spawn(healthy_node);
  auto b = system.spawn(healthy_node);

  auto reply = join(self, router, {wire::kClusterProtocol + 1, "n1", "model-a", 1.0, 8}, a);
  CHECK_FALSE(reply.accepted);
  CHECK(reply.reason.find("cluster protocol 2 is not this front's 1") == 0);

  reply = join(self, router, {wire::kClusterProtocol, "n1", "model-b", 1.0, 8}, a);
  CHECK_FALSE(reply.accepted);
  CHECK(reply.reason.find("the node serves 'model-b' but the cluster serves 'model-a'") == 0);

  CHECK(join(self, router, {wire::kClusterProtocol, "n1", "model-a", 1.0, 8}, a).accepted);
  reply = join(self, router, {wire::kClusterProtocol, "n1", "model-a", 1.0, 8}, b);
  CHECK_FALSE(reply.accepted);
  CHECK(reply.reason == "a node named 'n1' is already in the cluster");

  // Routed there: the node's handle comes back and it counts as in flight until released.
  CHECK(route(self, router) == std::make_optional(std::make_pair(std::string("n1"), a)));
  self->request(router, std::chrono::seconds(5), status_atom::value)
      .receive(
          [&](wire::ClusterStatus& s) {
            REQUIRE(s.nodes.size() == 1);
            CHECK(s.nodes[0].outstanding == 1);
            CHECK(s.nodes[0].routed == 1);
          },
          [&](caf::error& e) { FAIL(system.render(e)); });
  // With n1 tried already, nothing is left.
  CHECK_FALSE(route(self, router, {"n1"}));

  // Released with what the front measured there: no longer in flight, and the node's totals
  // have the attempt (its first token, its failure).
  wire::ServedRequests served = metrics::no_requests_served();
  metrics::observe(served.time_to_first_token, 0.2);
  served.attempts = 1;
  served.failed = 1;
  self->send(router, release_atom::value, std::string("n1"), self->address(), served);
  self->request(router, std::chrono::seconds(5), status_atom::value)
      .receive(
          [&](wire::ClusterStatus& s) {
            REQUIRE(s.nodes.size() == 1);
            CHECK(s.nodes[0].outstanding == 0);
            CHECK(s.nodes[0].served == served);
          },
          [&](caf::error& e) { FAIL(system.render(e)); });

  for (const auto& actor : {router, a, b}) self->send_exit(actor, caf::exit_reason::user_shutdown);
}

TEST_CASE("a node heard only through its heartbeats stays routable, and leaves when they stop") {
  caf::actor_system_config config;
  configure_actor_system(config);
  caf::actor_system system{config};
  caf::scoped_actor self{system};
  const TestClock clock;
  auto router = test_router(system, clock, std::chrono::milliseconds(400));
  auto mute = system.spawn(mute_node);
  REQUIRE(join(self, router, {wire::kClusterProtocol, "n", "m", 1.0, 8}, mute).accepted);
  const wire::HealthReport alive{true, true, false, "", 0, {}};
  // Heartbeats every 100 ms for twice the deadline, polls between them: still routable at the
  // end, its probes unanswered. (The router takes one sender's messages in order.)
  for (int i = 0; i < 8; ++i) {
    clock.advance(std::chrono::milliseconds(100));
    self->send(router, heartbeat_atom::value, std::string("n"), alive);
    self->send(router, tick_atom::value);
  }
  CHECK(status(self, router).nodes.at(0).routable);
  CHECK(status(self, router).nodes.at(0).health_reports == 8);
  // Silence up to the deadline: still routable; past it, out of routing at the next poll.
  clock.advance(std::chrono::milliseconds(400));
  self->send(router, tick_atom::value);
  CHECK(status(self, router).nodes.at(0).routable);
  clock.advance(std::chrono::milliseconds(1));
  self->send(router, tick_atom::value);
  CHECK_FALSE(status(self, router).nodes.at(0).routable);
  // Heard again: back in routing.
  self->send(router, heartbeat_atom::value, std::string("n"), alive);
  CHECK(status(self, router).nodes.at(0).routable);
  for (const auto& actor : {router, mute}) self->send_exit(actor, caf::exit_reason::user_shutdown);
}

TEST_CASE("a silent node's name goes to a new node joining under it; an answering one keeps it") {
  caf::actor_system_config config;
  configure_actor_system(config);
  caf::actor_system system{config};
  caf::scoped_actor self{system};
  const TestClock clock;
  auto router = test_router(system, clock, std::chrono::milliseconds(600));
  auto hung = system.spawn(mute_node);
  auto replacement = system.spawn(healthy_node);
  auto intruder = system.spawn(healthy_node);
  REQUIRE(join(self, router, {wire::kClusterProtocol, "pod-0", "m", 1.0, 8}, hung).accepted);
  // Just joined, it counts as heard: the name is still taken.
  CHECK_FALSE(
      join(self, router, {wire::kClusterProtocol, "pod-0", "m", 1.0, 8}, replacement).accepted);
  clock.advance(std::chrono::milliseconds(600));
  CHECK_FALSE(
      join(self, router, {wire::kClusterProtocol, "pod-0", "m", 1.0, 8}, replacement).accepted);
  // Past the deadline without a word, the name is free for the replacement, routable at once.
  clock.advance(std::chrono::milliseconds(1));
  REQUIRE(join(self, router, {wire::kClusterProtocol, "pod-0", "m", 1.0, 8}, replacement).accepted);
  CHECK(route(self, router) ==
        std::make_optional(std::make_pair(std::string("pod-0"), replacement)));
  // The replacement answers its probes: past the deadline again, nobody takes the name from it.
  // Its answer to the join's probe is counted first (a counter, not a wait).
  const auto joined_reports = [&] { return status(self, router).nodes.at(0).health_reports; };
  for (int i = 0; i < 100000 && joined_reports() == 0; ++i) {
  }
  clock.advance(std::chrono::milliseconds(900));
  const int64_t before = joined_reports();
  self->send(router, tick_atom::value);  // a poll: the replacement is probed and answers
  for (int i = 0; i < 100000 && joined_reports() == before; ++i) {
  }
  REQUIRE(joined_reports() > before);
  const auto reply = join(self, router, {wire::kClusterProtocol, "pod-0", "m", 1.0, 8}, intruder);
  CHECK_FALSE(reply.accepted);
  CHECK(reply.reason == "a node named 'pod-0' is already in the cluster");
  // The hung process's actor is no longer watched: its end leaves the name's holder connected.
  // A barrier, not a wait: once our own down message for it is here, a down message to the
  // router (which monitored it first) is already in the router's mailbox, ahead of our request.
  self->monitor(hung);
  self->send_exit(hung, caf::exit_reason::user_shutdown);
  self->receive([](caf::down_msg&) {});
  const auto nodes = status(self, router).nodes;
  REQUIRE(nodes.size() == 1);
  CHECK(nodes[0].connected);
  for (const auto& actor : {router, replacement, intruder}) {
    self->send_exit(actor, caf::exit_reason::user_shutdown);
  }
}
