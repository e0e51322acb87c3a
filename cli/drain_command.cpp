// troupe drain --node NAME: asks a front to drain one of its cluster's nodes. The router stops
// sending it requests at once; the node finishes its work and, if it is a replica node
// (troupe worker), leaves and exits as it would on SIGTERM. troupe undrain --node NAME takes a
// drain of the front's own node back. Both are admin routes: an admin key, or loopback when the
// front has no keys.
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli/commands.hpp"
#include "cli/front_client.hpp"
#include "net/api/bounded_json.hpp"

namespace troupe::cli {
namespace {

// The node as GET /cluster shows it has finished its drain: gone, or idle and out of routing.
// An error when an entry that may be the node has a shape troupe cannot read (a front of
// another version): not knowing, troupe cannot say the node left.
Result<bool> drain_finished(const nlohmann::json& cluster, const std::string& node) {
  if (!cluster.is_object() || !cluster.contains("nodes") || !cluster["nodes"].is_array())
    return false;
  try {
    for (const auto& n : cluster["nodes"]) {
      if (!n.is_object()) return make_error("a node entry is " + std::string(n.type_name()));
      if (n.value("name", "") != node) continue;
      if (!n.value("connected", false)) return true;  // a replica node that left
      return n.value("draining", false) && n.value("outstanding", 1) == 0 &&
             n.value("running", 1) == 0;
    }
  } catch (const nlohmann::json::exception& e) {
    return make_error(e.what());
  }
  return true;  // not in the cluster (any more)
}

// Polls GET /cluster until the node has left it or is idle: 0 when it did, 1 when the timeout
// passed first (the node may still finish on its own), 2 when the answer names the node in a
// shape troupe cannot read.
int wait_until_drained(const Flags& flags, const std::string& node,
                       std::chrono::milliseconds timeout) {
  constexpr auto kPoll = std::chrono::milliseconds(250);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    auto response = ask_front(flags, "GET", "/cluster");
    if (response && response->status == 200) {
      const auto body = api::parse_bounded_json_or_discarded(response->body);
      const auto finished = drain_finished(body, node);
      if (!finished)
        return input_error("GET /cluster answered a node troupe cannot read (" +
                           finished.message() + ")");
      if (*finished) {
        std::printf("node %s drained\n", node.c_str());
        return 0;
      }
    }
    std::this_thread::sleep_for(kPoll);  // a poll of another process's state, not a test's sync
  }
  std::fprintf(stderr, "troupe: node %s had not drained after %.0f s\n", node.c_str(),
               timeout.count() / 1000.0);
  return 1;
}

// `verb` is "drain" or "undrain": the command, the route /cluster/<verb> and the message.
int node_command(const Args& args, const std::string& verb, const char* summary) {
  CommandSpec spec{verb,
                   "troupe " + verb + " --node NAME [--url URL] [--api-key KEY]",
                   summary,
                   {{"node", "NAME", "the node to " + verb + " (troupe status lists them)"}}};
  if (verb == "drain") {
    spec.flags.push_back({"wait", "",
                          "wait until the node has left the cluster (a replica node) or has no "
                          "requests in flight (the front's own), e.g. in a preStop hook"});
    spec.flags.push_back({"wait-timeout", "S", "give up waiting after S seconds (default 600)"});
  }
  for (auto& f : front_flags()) spec.flags.push_back(std::move(f));
  Flags flags;
  // Settings from TROUPE_<FLAG> variables too: TROUPE_API_KEY keeps the key off the command line.
  if (auto done = parse_settings(spec, args, flags)) return *done;
  if (!flags.positional().empty()) {
    return input_error("unexpected argument '" + flags.positional()[0] + "'");
  }
  const auto node = flags.get("node");
  if (!node || node->empty()) return input_error("--node NAME is required: the node to " + verb);
  auto response =
      ask_front(flags, "POST", "/cluster/" + verb, nlohmann::json{{"node", *node}}.dump());
  if (!response) return input_error(response.message());
  if (response->status != 200) {
    const auto body = api::parse_bounded_json_or_discarded(response->body);
    const bool openai_error = body.is_object() && body.contains("error") &&
                              body["error"].is_object() && body["error"].contains("message") &&
                              body["error"]["message"].is_string();
    const std::string message =
        openai_error ? body["error"]["message"].get<std::string>() : response->body.substr(0, 200);
    return input_error("the front answered " + std::to_string(response->status) + ": " + message);
  }
  std::printf("%s node %s\n", verb == "drain" ? "draining" : "undrained", node->c_str());
  if (!flags.has("wait")) return 0;
  std::fflush(stdout);
  auto timeout = seconds_flag(flags, "wait-timeout", 600);
  if (!timeout) return input_error(flags, timeout.message());
  return wait_until_drained(flags, *node, *timeout);
}

}  // namespace

int drain_command(const Args& args) {
  return node_command(
      args, "drain",
      "Drains one node of the cluster behind a front: no new requests go to it, its\n"
      "requests finish, then a replica node leaves (troupe status shows it); the front's own\n"
      "node stays out of routing until 'troupe undrain'.");
}

int undrain_command(const Args& args) {
  return node_command(args, "undrain",
                      "Routes requests to a drained node again (the front's own node; a replica "
                      "node\ntold to drain has left: start it again and it rejoins).");
}

}  // namespace troupe::cli
