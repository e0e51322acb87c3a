// troupe status: the cluster as a front's router sees it (GET /cluster): every node, whether it
// takes requests, its requests in flight and in all, its batch, queue and KV cache use; and the
// autoscaler's last decision and recent scale events when the front autoscales.
#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/commands.hpp"
#include "cli/front_client.hpp"
#include "net/api/bounded_json.hpp"

namespace troupe::cli {
namespace {

// A node's tensor-parallel group, from its ranks' totals: collectives per step, and each rank's
// mean step time with the share spent in its collectives.
std::string group_line(const std::string& node, const nlohmann::json& ranks) {
  const auto& first = ranks[0];
  const double steps = first.value("steps", 0.0);
  const auto collectives = first.value("collectives", nlohmann::json::object());
  char text[256];
  std::snprintf(text, sizeof text, "group %s: %zu ranks, %.0f all-reduces and %.0f gathers a step;",
                node.c_str(), ranks.size(),
                steps > 0 ? collectives.value("all_reduces", 0.0) / steps : 0.0,
                steps > 0 ? collectives.value("all_gathers", 0.0) / steps : 0.0);
  std::string line = text;
  for (const auto& r : ranks) {
    const double n = r.value("steps", 0.0), seconds = r.value("step_seconds", 0.0);
    const double in_collectives = r.value("step_collective_seconds", 0.0);
    std::snprintf(text, sizeof text, " rank %d %.2f ms (%.0f%% collectives)", r.value("rank", 0),
                  n > 0 ? 1000 * seconds / n : 0.0,
                  seconds > 0 ? 100 * in_collectives / seconds : 0.0);
    line += text;
  }
  return line + "\n";
}

}  // namespace

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
    std::printf("%-24s %-9s %8s %8s %8s %8s %7s %7s %3s\n", "NODE", "STATE", "IN-FLIGHT", "ROUTED",
                "RUNNING", "WAITING", "KV", "WEIGHT", "TP");
    for (const auto& n : body["nodes"]) {
      const char* state = n.value("routable", false)     ? "routable"
                          : !n.value("connected", false) ? "gone"
                          : n.value("draining", false)   ? "draining"
                                                         : "down";
      const auto ranks = n.value("tensor_parallel_ranks", nlohmann::json::array());
      std::printf("%-24s %-9s %8d %8lld %8d %8d %6.1f%% %7.2f %3d\n", n.value("name", "").c_str(),
                  state, n.value("outstanding", 0),
                  static_cast<long long>(n.value("routed", int64_t{0})), n.value("running", 0),
                  n.value("waiting", 0), 100 * n.value("kv_usage", 0.0), n.value("weight", 1.0),
                  std::max<int>(1, static_cast<int>(ranks.size())));
    }
    for (const auto& n : body["nodes"]) {
      const auto ranks = n.value("tensor_parallel_ranks", nlohmann::json::array());
      if (!ranks.is_array() || ranks.empty()) continue;
      std::printf("%s", group_line(n.value("name", ""), ranks).c_str());
    }
    if (body.contains("autoscaler") && body["autoscaler"].is_object()) {
      const auto& a = body["autoscaler"];
      std::printf("autoscaler: %s%s, %d to %d replicas; desired %d (ready %d, starting %d)%s\n",
                  a.value("mode", "").c_str(), a.value("advisory", false) ? " (advisory)" : "",
                  a.value("min_replicas", 0), a.value("max_replicas", 0), a.value("desired", 0),
                  a.value("ready", 0), a.value("starting", 0),
                  a.value("panic", false) ? ", panic" : "");
      std::printf("  last decision by %s: %s\n", a.value("rule", "-").c_str(),
                  a.value("reason", "").c_str());
      if (!a.value("error", "").empty()) std::printf("  error: %s\n", a.value("error", "").c_str());
      if (a.contains("events") && a["events"].is_array()) {
        const auto& events = a["events"];
        for (size_t i = events.size() > 5 ? events.size() - 5 : 0; i < events.size(); ++i) {
          const auto& e = events[i];
          std::printf("  scaled %d -> %d by %s: %s\n", e.value("from", 0), e.value("to", 0),
                      e.value("rule", "").c_str(), e.value("reason", "").c_str());
        }
      }
    }
  } catch (const nlohmann::json::exception&) {
    return input_error("the front's /cluster answer is not the cluster's JSON");
  }
  return 0;
}

}  // namespace troupe::cli
