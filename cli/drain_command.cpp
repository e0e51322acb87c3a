// troupe drain --node NAME: asks a front to drain one of its cluster's nodes. The router stops
// sending it requests at once; the node finishes its work and, if it is a replica node
// (troupe worker), leaves and exits as it would on SIGTERM.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/front_client.hpp"

namespace troupe::cli {

int drain_command(const Args& args) {
  CommandSpec spec{"drain",
                   "troupe drain --node NAME [--url URL] [--api-key KEY]",
                   "Drains one node of the cluster behind a front: no new requests go to it, its\n"
                   "requests finish, then a replica node leaves (troupe status shows it).",
                   {{"node", "NAME", "the node to drain (troupe status lists them)"}}};
  for (auto& f : front_flags()) spec.flags.push_back(std::move(f));
  Flags flags;
  if (auto done = parse_flags(spec, args, flags)) return *done;
  if (!flags.positional().empty()) {
    return input_error("unexpected argument '" + flags.positional()[0] + "'");
  }
  const auto node = flags.get("node");
  if (!node || node->empty()) return input_error("--node NAME is required: the node to drain");
  auto response =
      ask_front(flags, "POST", "/cluster/drain", nlohmann::json{{"node", *node}}.dump());
  if (!response) return input_error(response.message());
  if (response->status != 200) {
    const auto body = nlohmann::json::parse(response->body, nullptr, false);
    const bool openai_error = body.is_object() && body.contains("error") &&
                              body["error"].is_object() && body["error"].contains("message") &&
                              body["error"]["message"].is_string();
    const std::string message =
        openai_error ? body["error"]["message"].get<std::string>() : response->body.substr(0, 200);
    return input_error("the front answered " + std::to_string(response->status) + ": " + message);
  }
  std::printf("draining node %s\n", node->c_str());
  return 0;
}

}  // namespace troupe::cli
