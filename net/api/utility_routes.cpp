// vLLM's POST /tokenize and /detokenize, the operational GET /health, /metrics and /cluster, the
// admin POST /cluster/drain and /cluster/undrain, and the chat page at GET /.
#include <nlohmann/json.hpp>

#include "net/api/chat_page.hpp"
#include "net/api/gateway_impl.hpp"
#include "net/api/json_fields.hpp"

namespace troupe::api {

void GatewayCore::tokenize(Call& call) {
  JsonFields fields(call.request.body);
  std::string prompt;
  bool add_special_tokens = true;
  fields.read_string("prompt", prompt);
  fields.read_bool("add_special_tokens", add_special_tokens);
  if (!fields.error && !fields.has("prompt")) fields.fail("prompt", "'prompt' is required");
  if (fields.error) return reply_error(call, *fields.error);
  const auto tokens = parts.tokenizer->encode(prompt, add_special_tokens, true);
  reply_json(call, 200,
             nlohmann::json{{"tokens", tokens},
                            {"count", tokens.size()},
                            {"max_model_len", config.limits.max_model_len}}
                 .dump());
}

void GatewayCore::detokenize(Call& call) {
  JsonFields fields(call.request.body);
  if (!fields.error && !fields.has("tokens")) fields.fail("tokens", "'tokens' is required");
  std::vector<int32_t> tokens;
  if (!fields.error) {
    const auto& list = fields.json()["tokens"];
    const auto vocab = static_cast<long long>(parts.tokenizer->vocab_size());
    if (!list.is_array()) fields.fail("tokens", "'tokens' must be an array of token ids");
    for (const auto& id : list) {
      if (fields.error) break;
      if (!id.is_number_integer() || id.get<long long>() < 0 || id.get<long long>() >= vocab) {
        fields.fail("tokens", "'tokens' must hold token ids in [0, " + std::to_string(vocab) + ")");
        break;
      }
      tokens.push_back(id.get<int32_t>());
    }
  }
  if (fields.error) return reply_error(call, *fields.error);
  reply_json(call, 200,
             nlohmann::json{{"prompt", parts.tokenizer->decode(tokens)}}.dump(
                 -1, ' ', false, nlohmann::json::error_handler_t::replace));
}

void GatewayCore::chat_page(Call& call) {
  call.sink->respond({200, "text/html; charset=utf-8", std::string(kChatPageHtml), call.cors});
}

void GatewayCore::health(Call& call) {
  const auto report = parts.service->health();
  nlohmann::json body = {{"status", report.ready      ? "ok"
                                    : report.draining ? "draining"
                                                      : "loading"},
                         {"ready", report.ready},
                         {"draining", report.draining},
                         {"restarts", report.restarts}};
  if (!report.reason.empty()) body["reason"] = report.reason;
  reply_json(call, report.ready ? 200 : 503, body.dump());
}

void GatewayCore::cluster(Call& call) {
  const wire::ClusterStatus status = parts.service->cluster();
  nlohmann::json nodes = nlohmann::json::array();
  for (const auto& n : status.nodes) {
    nodes.push_back({{"name", n.name},
                     {"routable", n.routable},
                     {"connected", n.connected},
                     {"outstanding", n.outstanding},
                     {"routed", n.routed},
                     {"waiting", n.waiting},
                     {"kv_usage", n.kv_usage},
                     {"weight", n.weight},
                     {"prefix_cache_queries", n.prefix_cache_queries},
                     {"prefix_cache_hits", n.prefix_cache_hits}});
  }
  reply_json(call, 200,
             nlohmann::json{{"routing", status.routing}, {"nodes", nodes}}.dump(
                 -1, ' ', false, nlohmann::json::error_handler_t::replace));
}

namespace {

// The admin body {"node": NAME}: the name, or nullopt after answering the error.
std::optional<std::string> node_named_in(GatewayCore& gateway, Call& call) {
  JsonFields fields(call.request.body);
  std::string node;
  fields.read_string("node", node);
  if (!fields.error && node.empty()) fields.fail("node", "'node' is required: the node's name");
  if (fields.error) {
    gateway.reply_error(call, *fields.error);
    return std::nullopt;
  }
  return node;
}

ApiError node_not_found(const std::string& node) {
  return {404, "no connected node is named '" + node + "'", "invalid_request_error", "node",
          "node_not_found"};
}

}  // namespace

void GatewayCore::drain_node(Call& call) {
  const auto node = node_named_in(*this, call);
  if (!node) return;
  if (!parts.service->drain_node(*node)) return reply_error(call, node_not_found(*node));
  reply_json(call, 200, nlohmann::json{{"node", *node}, {"draining", true}}.dump());
}

void GatewayCore::undrain_node(Call& call) {
  const auto node = node_named_in(*this, call);
  if (!node) return;
  switch (parts.service->undrain_node(*node)) {
    case UndrainResult::undrained:
      return reply_json(call, 200, nlohmann::json{{"node", *node}, {"draining", false}}.dump());
    case UndrainResult::unknown:
      return reply_error(call, node_not_found(*node));
    case UndrainResult::leaving:
      return reply_error(call, {409,
                                "node '" + *node +
                                    "' was told to drain and is leaving the cluster; start it "
                                    "again and it rejoins",
                                "invalid_request_error", "node", "node_leaving"});
  }
}

void GatewayCore::metrics(Call& call) {
  if (!parts.metrics) return reply_json(call, 404, "{}");
  const auto report = parts.service->health_now();
  int running = 0, waiting = 0;
  int64_t used = 0, total = 0, queries = 0, hits = 0, preemptions = 0;
  for (const auto& r : report.replicas) {
    running += r.running;
    waiting += r.waiting;
    used += r.kv_blocks_used;
    total += r.kv_blocks_used + r.kv_blocks_free;
    queries += r.prefix_cache_queries;
    hits += r.prefix_cache_hits;
    preemptions += r.preemptions;
  }
  parts.metrics->set_replica_load(running, waiting, total ? double(used) / double(total) : 0.0,
                                  queries, hits, preemptions);
  call.sink->respond(
      {200, "text/plain; version=0.0.4; charset=utf-8", parts.metrics->render(), call.cors});
}

}  // namespace troupe::api
