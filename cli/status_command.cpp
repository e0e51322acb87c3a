// troupe status: the cluster as a front's router sees it (GET /cluster): every node, whether it
// takes requests, its requests in flight and in all, its queue and its KV cache use.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/front_client.hpp"
#include "net/api/bounded_json.hpp"

namespace troupe::cli {

int status_command(const Args& args) {
  CommandSpec spec{"status",
                   "troupe status [--url URL] [--api-key KEY] [--json]",
                   "Shows the cluster behind a front (troupe serve): its nodes, their health,\n"
                   "load and KV cache use, from the front's GET /cluster.",
                   {{"json", "", "print the front's JSON as it is"}}};
  for (auto& f : front_flags()) spec.flags.push_back(std::move(f));
  Flags flags;
  if (auto done = parse_flags(spec, args, flags)) return *done;
  if (!flags.positional().empty()) {
    return input_error("unexpected argument '" + flags.positional()[0] + "'");
  }
  auto response = ask_front(flags, "GET", "/cluster");
  if (!response) return input_error(response.message());
  if (response->status != 200) {
    return input_error("the front answered " + std::to_string(response->status) +
                       " to GET /cluster: " + response->body.substr(0, 200));
  }
  const auto body = api::parse_bounded_json_or_discarded(response->body);
  if (!body.is_object() || !body.contains("nodes") || !body["nodes"].is_array()) {
    return input_error("the front's /cluster answer is not the cluster's JSON");
  }
  if (flags.has("json")) {
    std::printf("%s\n", body.dump(2).c_str());
    return 0;
  }
  try {  // a front of another version, or a proxy's page, must not crash the command
    std::printf("routing: %s\n", body.value("routing", "").c_str());
    std::printf("%-24s %-9s %8s %8s %8s %7s %7s\n", "NODE", "STATE", "IN-FLIGHT", "ROUTED",
                "WAITING", "KV", "WEIGHT");
    for (const auto& n : body["nodes"]) {
      const char* state = n.value("routable", false)    ? "routable"
                          : n.value("connected", false) ? "down"
                                                        : "gone";
      std::printf("%-24s %-9s %8d %8lld %8d %6.1f%% %7.2f\n", n.value("name", "").c_str(), state,
                  n.value("outstanding", 0), static_cast<long long>(n.value("routed", int64_t{0})),
                  n.value("waiting", 0), 100 * n.value("kv_usage", 0.0), n.value("weight", 1.0));
    }
  } catch (const nlohmann::json::exception&) {
    return input_error("the front's /cluster answer is not the cluster's JSON");
  }
  return 0;
}

}  // namespace troupe::cli
