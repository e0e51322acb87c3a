#pragma once
// Who is in the cluster, as the router actor decides it: a pure policy over plain data. Nodes
// join with a wire::JoinRequest (refused for another protocol or model, no name, a weight that is
// not positive, or a name whose node still answers); they are heard from through health answers
// and pushed heartbeats; a node heard from by neither within `unhealthy_after` is lost until it is
// heard again, and one whose connection dropped is lost at once. Routable: connected, answering,
// admitting (its last health said live and not draining) and not drained by `troupe drain`.
//
// The actor keeps what only it can have (the nodes' actor handles, monitors, timers, the bridges
// routed to each node) and acts on what each call returns: the names newly lost (the requests
// routed there are told) and the routability changes (logged). Time is a parameter of every call
// that reads the clock, so tests need no sleeping.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "net/api/generation_service.hpp"
#include "net/cluster/routing.hpp"
#include "net/wire/messages.hpp"
#include "net/wire/replica_totals.hpp"

namespace troupe::cluster {

using TimePoint = std::chrono::steady_clock::time_point;

struct MembershipConfig {
  std::string model;  // the front's model_identity: joining nodes must serve the same
  std::chrono::milliseconds unhealthy_after{3000};
};

// One node as the router knows it.
struct Member {
  NodeLoad load;          // name, weight, capacity, routable, and its load for the routing policy
  bool connected = true;  // false once its actor is gone (it may join again)
  bool remote = false;    // joined from another process: drained by message, then leaves
  bool lost = false;      // disconnected or silent: its requests were told
  bool drain_requested = false;  // by troupe drain: out of routing whatever its health says
  // Its last health answer said live and not draining. A node still starting its worker is
  // admitting: its scheduler queues requests until the worker is up.
  bool admitting = true;
  int64_t routed = 0;            // requests routed there in all
  wire::ReplicaTotals reported;  // its replicas summed, as they last reported
  wire::ServedRequests served;   // the front's measure of the attempts it ran there, in all
  int64_t health_reports = 0;    // heard in all: a newer count means a later report's numbers
  TimePoint joined_at{};         // its last accepted join (not in wire::NodeStatus yet)
  TimePoint last_heard{};        // its last join, health answer or heartbeat
};

// A node whose routability changed, for the router's log line.
struct RoutabilityChange {
  std::string node;
  bool routable = false;
  bool connected = true;
  bool operator==(const RoutabilityChange&) const = default;
};
// The log's word for it: "routable", "down (silent or draining)" or "gone".
std::string_view describe(const RoutabilityChange& change);

// What an update changed that the router acts on.
struct MembershipChanges {
  std::vector<std::string> lost;  // newly lost: tell each request routed there (unreachable)
  std::vector<RoutabilityChange> routability;
  bool empty() const { return lost.empty() && routability.empty(); }
};

// Only the actor can tell these about a node joining.
struct Joiner {
  bool remote = false;  // its join came from another process (a member actor sent it)
  // The very actor that holds the name now joins again (a repeated join): not a takeover.
  bool holds_the_name = false;
};

struct JoinOutcome {
  wire::JoinReply reply;      // accepted, or refused with the reason the node is told
  bool took_over = false;     // the name was a silent node's: stop watching that node's actor
  MembershipChanges changes;  // the silent node's loss, when its name was taken over
};

enum class DrainStart {
  unknown,           // no connected node has that name
  already_draining,  // asked before: nothing more to do (a second SIGTERM would end it at once)
  started,           // out of routing from now
};

struct DrainOutcome {
  DrainStart start = DrainStart::unknown;
  bool tell_node = false;  // a remote node: send it drain_atom (it drains as on SIGTERM, leaves)
  MembershipChanges changes;
  bool known() const { return start != DrainStart::unknown; }
};

struct UndrainOutcome {
  api::UndrainResult result = api::UndrainResult::unknown;
  bool was_drained = false;  // undrained from a drain (for the log line)
  MembershipChanges changes;
};

class Membership {
 public:
  explicit Membership(MembershipConfig config = {}) : config_(std::move(config)) {}
  const MembershipConfig& config() const { return config_; }

  // Admits a node or refuses it, with the reason worded as the node hears it. A name is taken
  // while its node answers; a silent one gives it up to the node joining (a hung process
  // replaced under the same name, as a StatefulSet restarts its pod). A rejoining name keeps its
  // place, its count of requests in flight and its routability until it is next refreshed.
  JoinOutcome join(const wire::JoinRequest& request, const Joiner& joiner, TimePoint now);

  // A health answer or a pushed heartbeat from the connected node `name`: its load and whether
  // it admits. Ignored for names not connected.
  MembershipChanges heard_from(const std::string& name, const wire::HealthReport& report,
                               TimePoint now);
  // The node's actor is gone (its process or connection): lost at once.
  MembershipChanges connection_dropped(const std::string& name);
  // Every node against the clock (the router's poll): those silent too long are lost.
  MembershipChanges check(TimePoint now);

  DrainOutcome drain(const std::string& name, TimePoint now);
  UndrainOutcome undrain(const std::string& name, TimePoint now);

  // Routing bookkeeping: a request was routed to `name`, or ended there (never below zero),
  // with what the front measured of it there (nothing when its bridge went without a word).
  void routed_to(const std::string& name);
  void released(const std::string& name, const wire::ServedRequests& served = {});

  // Heard from within unhealthy_after (exactly at the deadline still counts).
  bool answering(const Member& member, TimePoint now) const;
  const Member* find(const std::string& name) const;
  const std::vector<Member>& members() const { return members_; }
  // The nodes to probe for their health.
  std::vector<std::string> connected_nodes() const;
  // For the routing policy: index i is members()[i].
  std::vector<NodeLoad> loads() const;
  std::vector<wire::NodeStatus> statuses() const;

 private:
  Member* find_mutable(const std::string& name);
  // Recomputes lost and routable at `now`, recording what changed.
  void refresh(Member& member, TimePoint now, MembershipChanges& changes) const;

  MembershipConfig config_;
  std::vector<Member> members_;  // in order of first join
};

// Why a join is refused apart from its name (protocol, name given, model, weight), in the
// router's words; nullopt when acceptable.
std::optional<std::string> join_refusal(const wire::JoinRequest& request, const std::string& model);
// Refused for a name whose node still answers.
std::string name_taken_refusal(const std::string& name);

wire::NodeStatus node_status(const Member& member);

}  // namespace troupe::cluster
