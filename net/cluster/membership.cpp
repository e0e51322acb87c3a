#include "net/cluster/membership.hpp"

#include "net/metrics/latency_counts.hpp"
#include "net/wire/replica_totals.hpp"

#include <algorithm>

namespace troupe::cluster {

std::string_view describe(const RoutabilityChange& change) {
  if (change.routable) return "routable";
  return change.connected ? "down (silent or draining)" : "gone";
}

std::optional<std::string> join_refusal(const wire::JoinRequest& request,
                                        const std::string& model) {
  if (request.protocol != wire::kClusterProtocol) {
    return "cluster protocol " + std::to_string(request.protocol) + " is not this front's " +
           std::to_string(wire::kClusterProtocol) + ": run the same troupe version on every node";
  }
  if (request.node.empty()) return std::string("the node has no name: give it --node-name");
  if (request.model != model) {
    return "the node serves '" + request.model + "' but the cluster serves '" + model +
           "': start it with the front's --model";
  }
  // Written so that NaN is refused too.
  if (!(request.weight > 0)) return std::string("--weight must be positive");
  return std::nullopt;
}

std::string name_taken_refusal(const std::string& name) {
  return "a node named '" + name + "' is already in the cluster";
}

wire::NodeStatus node_status(const Member& m) {
  const NodeLoad& l = m.load;
  const wire::ReplicaTotals& r = m.reported;
  wire::NodeStatus status{
      l.name,          l.routable, m.connected, l.outstanding,          m.routed,
      l.waiting,       l.kv_usage, l.weight,    r.prefix_cache_queries, r.prefix_cache_hits,
      m.health_reports};
  status.running = r.running;
  status.capacity = l.capacity;
  status.draining = m.drain_requested || !m.admitting;
  status.busy_seconds = r.busy_seconds;
  status.preemptions = r.preemptions;
  status.queue_seconds = r.queue_seconds;
  status.queued_requests = r.queued_requests;
  status.served = m.served;
  status.tensor_parallel_ranks = r.tensor_parallel_ranks;
  return status;
}

namespace {

// Routable: connected, answering, admitting, not drained. Lost: disconnected or silent; only the
// step into lost is reported, so the requests there are told once.
void settle(Member& m, bool answering, MembershipChanges& changes) {
  const bool routable = m.connected && answering && m.admitting && !m.drain_requested;
  const bool lost = !m.connected || !answering;
  if (lost && !m.lost) changes.lost.push_back(m.load.name);
  m.lost = lost;
  if (routable != m.load.routable) {
    changes.routability.push_back({m.load.name, routable, m.connected});
  }
  m.load.routable = routable;
}

}  // namespace

bool Membership::answering(const Member& member, TimePoint now) const {
  return now - member.last_heard <= config_.unhealthy_after;
}

void Membership::refresh(Member& member, TimePoint now, MembershipChanges& changes) const {
  settle(member, answering(member, now), changes);
}

JoinOutcome Membership::join(const wire::JoinRequest& request, const Joiner& joiner,
                             TimePoint now) {
  JoinOutcome outcome;
  if (auto reason = join_refusal(request, config_.model)) {
    outcome.reply = {false, std::move(*reason)};
    return outcome;
  }
  Member* m = find_mutable(request.node);
  if (m && m->connected && !joiner.holds_the_name && answering(*m, now)) {
    outcome.reply = {false, name_taken_refusal(request.node)};
    return outcome;
  }
  if (!m) {
    members_.push_back({});
    m = &members_.back();
    m->served = metrics::no_requests_served();
  } else if (m->connected && !joiner.holds_the_name) {
    outcome.took_over = true;
    refresh(*m, now, outcome.changes);  // its requests are told, if the last check did not yet
  }
  m->load.name = request.node;
  m->load.weight = request.weight;
  m->load.capacity = std::max(1, request.capacity);
  m->connected = true;
  m->remote = joiner.remote;
  m->lost = false;
  m->drain_requested = false;
  m->admitting = true;  // it just spoke; its health answers keep it routable
  m->joined_at = now;
  m->last_heard = now;
  // Routable at once, a rejoining or replacing node too (it was not, under its old state): a
  // request routed right after the join must find it.
  refresh(*m, now, outcome.changes);
  outcome.reply = {true, ""};
  return outcome;
}

MembershipChanges Membership::heard_from(const std::string& name, const wire::HealthReport& report,
                                         TimePoint now) {
  MembershipChanges changes;
  Member* m = find_mutable(name);
  if (!m || !m->connected) return changes;
  m->last_heard = now;
  ++m->health_reports;
  m->admitting = report.live && !report.draining;
  const wire::ReplicaTotals totals = wire::sum_replicas(report.replicas);
  m->load.waiting = totals.waiting;
  m->load.kv_usage = totals.kv_usage();
  m->reported = totals;
  refresh(*m, now, changes);
  return changes;
}

MembershipChanges Membership::connection_dropped(const std::string& name) {
  MembershipChanges changes;
  if (Member* m = find_mutable(name)) {
    m->connected = false;
    settle(*m, /*answering=*/false, changes);  // disconnected: lost and not routable regardless
  }
  return changes;
}

MembershipChanges Membership::check(TimePoint now) {
  MembershipChanges changes;
  for (Member& m : members_) refresh(m, now, changes);
  return changes;
}

DrainOutcome Membership::drain(const std::string& name, TimePoint now) {
  DrainOutcome outcome;
  Member* m = find_mutable(name);
  if (!m || !m->connected) return outcome;
  if (m->drain_requested) {
    outcome.start = DrainStart::already_draining;
    return outcome;
  }
  outcome.start = DrainStart::started;
  m->drain_requested = true;  // no new requests from now, whatever its health says
  refresh(*m, now, outcome.changes);
  // A remote node drains as on SIGTERM, then leaves. The front's own node only leaves routing:
  // its requests finish, and it serves again when undrained.
  outcome.tell_node = m->remote;
  return outcome;
}

UndrainOutcome Membership::undrain(const std::string& name, TimePoint now) {
  UndrainOutcome outcome;
  Member* m = find_mutable(name);
  if (!m || !m->connected) return outcome;  // unknown
  if (m->drain_requested && m->remote) {
    outcome.result = api::UndrainResult::leaving;
    return outcome;
  }
  outcome.result = api::UndrainResult::undrained;
  outcome.was_drained = m->drain_requested;
  m->drain_requested = false;
  refresh(*m, now, outcome.changes);
  return outcome;
}

void Membership::routed_to(const std::string& name) {
  if (Member* m = find_mutable(name)) {
    m->load.outstanding++;
    m->routed++;
  }
}

void Membership::released(const std::string& name, const wire::ServedRequests& served) {
  Member* m = find_mutable(name);
  if (!m) return;
  m->load.outstanding = std::max(0, m->load.outstanding - 1);
  metrics::add(m->served, served);
}

const Member* Membership::find(const std::string& name) const {
  for (const Member& m : members_) {
    if (m.load.name == name) return &m;
  }
  return nullptr;
}

Member* Membership::find_mutable(const std::string& name) {
  return const_cast<Member*>(std::as_const(*this).find(name));
}

std::vector<std::string> Membership::connected_nodes() const {
  std::vector<std::string> names;
  for (const Member& m : members_) {
    if (m.connected) names.push_back(m.load.name);
  }
  return names;
}

std::vector<NodeLoad> Membership::loads() const {
  std::vector<NodeLoad> loads;
  loads.reserve(members_.size());
  for (const Member& m : members_) loads.push_back(m.load);
  return loads;
}

std::vector<wire::NodeStatus> Membership::statuses() const {
  std::vector<wire::NodeStatus> statuses;
  statuses.reserve(members_.size());
  for (const Member& m : members_) statuses.push_back(node_status(m));
  return statuses;
}

}  // namespace troupe::cluster
