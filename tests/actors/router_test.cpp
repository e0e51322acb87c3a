// The router actor's join rules and routing bookkeeping, on a real actor system with plain actors
// standing in for nodes (no model, no network).
#include <catch2/catch.hpp>
#include <thread>

#include "actors/router.hpp"

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

// A router that polls every 100 ms and marks a node down after `unhealthy_after` of silence.
caf::actor fast_router(caf::actor_system& system, std::chrono::milliseconds unhealthy_after) {
  RouterSetup setup{cluster::RoutingStrategy::round_robin, "m"};
  setup.unhealthy_after = unhealthy_after;
  setup.poll = std::chrono::milliseconds(100);
  return spawn_router(system, setup);
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
  self->request(router, std::chrono::seconds(5), route_atom::value, uint64_t{0},
                std::vector<std::string>{})
      .receive(
          [&](std::string& name, caf::actor& node) {
            CHECK(name == "n1");
            CHECK(node == a);
          },
          [&](caf::error& e) { FAIL(system.render(e)); });
  self->request(router, std::chrono::seconds(5), status_atom::value)
      .receive(
          [&](wire::ClusterStatus& s) {
            REQUIRE(s.nodes.size() == 1);
            CHECK(s.nodes[0].outstanding == 1);
            CHECK(s.nodes[0].routed == 1);
          },
          [&](caf::error& e) { FAIL(system.render(e)); });
  // With n1 tried already, nothing is left.
  bool refused = false;
  self->request(router, std::chrono::seconds(5), route_atom::value, uint64_t{0},
                std::vector<std::string>{"n1"})
      .receive([&](std::string&, caf::actor&) {}, [&](caf::error&) { refused = true; });
  CHECK(refused);

  for (const auto& actor : {router, a, b}) self->send_exit(actor, caf::exit_reason::user_shutdown);
}

TEST_CASE("a node heard only through its heartbeats stays routable, and leaves when they stop") {
  caf::actor_system_config config;
  configure_actor_system(config);
  caf::actor_system system{config};
  caf::scoped_actor self{system};
  auto router = fast_router(system, std::chrono::milliseconds(400));
  auto mute = system.spawn(mute_node);
  REQUIRE(join(self, router, {wire::kClusterProtocol, "n", "m", 1.0, 8}, mute).accepted);
  auto routable = [&] {
    bool result = false;
    self->request(router, std::chrono::seconds(5), status_atom::value)
        .receive([&](wire::ClusterStatus& s) { result = s.nodes.at(0).routable; },
                 [&](caf::error& e) { FAIL(system.render(e)); });
    return result;
  };
  const wire::HealthReport alive{true, true, false, "", 0, {}};
  // Heartbeats for twice the deadline: still routable at the end, probes unanswered.
  const auto start = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - start < std::chrono::milliseconds(800)) {
    self->send(router, heartbeat_atom::value, std::string("n"), alive);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the heartbeat period
  }
  CHECK(routable());
  // Silence: out of routing once the deadline passes.
  bool left = false;
  for (int i = 0; i < 50 && !left; ++i) {
    left = !routable();
    if (!left) std::this_thread::sleep_for(std::chrono::milliseconds(50));  // time must pass
  }
  CHECK(left);
  for (const auto& actor : {router, mute}) self->send_exit(actor, caf::exit_reason::user_shutdown);
}

TEST_CASE("a silent node's name goes to a new node joining under it; an answering one keeps it") {
  caf::actor_system_config config;
  configure_actor_system(config);
  caf::actor_system system{config};
  caf::scoped_actor self{system};
  auto router = fast_router(system, std::chrono::milliseconds(600));
  auto hung = system.spawn(mute_node);
  auto replacement = system.spawn(healthy_node);
  auto intruder = system.spawn(healthy_node);
  REQUIRE(join(self, router, {wire::kClusterProtocol, "pod-0", "m", 1.0, 8}, hung).accepted);
  // Just joined, it counts as heard: the name is still taken.
  CHECK_FALSE(
      join(self, router, {wire::kClusterProtocol, "pod-0", "m", 1.0, 8}, replacement).accepted);
  // Past the deadline without a word, the name is free for the replacement.
  bool accepted = false;
  for (int i = 0; i < 60 && !accepted; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // time must pass
    accepted =
        join(self, router, {wire::kClusterProtocol, "pod-0", "m", 1.0, 8}, replacement).accepted;
  }
  REQUIRE(accepted);
  self->request(router, std::chrono::seconds(5), route_atom::value, uint64_t{0},
                std::vector<std::string>{})
      .receive(
          [&](std::string& name, caf::actor& node) {
            CHECK(name == "pod-0");
            CHECK(node == replacement);
          },
          [&](caf::error& e) { FAIL(system.render(e)); });
  // The replacement answers its probes: nobody takes the name from it.
  std::this_thread::sleep_for(std::chrono::milliseconds(900));  // past the deadline again
  const auto reply = join(self, router, {wire::kClusterProtocol, "pod-0", "m", 1.0, 8}, intruder);
  CHECK_FALSE(reply.accepted);
  CHECK(reply.reason == "a node named 'pod-0' is already in the cluster");
  // The hung process's end no longer touches the node now holding the name.
  self->send_exit(hung, caf::exit_reason::user_shutdown);
  // Its down message reaches the router from another sender than our request: give it time.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  self->request(router, std::chrono::seconds(5), status_atom::value)
      .receive(
          [&](wire::ClusterStatus& s) {
            REQUIRE(s.nodes.size() == 1);
            CHECK(s.nodes[0].connected);
          },
          [&](caf::error& e) { FAIL(system.render(e)); });
  for (const auto& actor : {router, replacement, intruder}) {
    self->send_exit(actor, caf::exit_reason::user_shutdown);
  }
}
