// troupe drain --node NAME: asks a front to drain one of its cluster's nodes. The router stops
// sending it requests at once; the node finishes its work and, if it is a replica node
// (troupe worker), leaves and exits as it would on SIGTERM. troupe undrain --node NAME takes a
// drain of the front's own node back. Both are admin routes: an admin key, or loopback when the
// front has no keys.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/front_client.hpp"
#include "net/api/bounded_json.hpp"

namespace troupe::cli {
namespace {

// `verb` is "drain" or "undrain": the command, the route /cluster/<verb> and the message.
int node_command(const Args& args, const std::string& verb, const char* summary) {
  CommandSpec spec{verb,
                   "troupe " + verb + " --node NAME [--url URL] [--api-key KEY]",
                   summary,
                   {{"node", "NAME", "the node to " + verb + " (troupe status lists them)"}}};
  for (auto& f : front_flags()) spec.flags.push_back(std::move(f));
  Flags flags;
  if (auto done = parse_flags(spec, args, flags)) return *done;
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
  return 0;
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
