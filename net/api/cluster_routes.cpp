// The cluster's admin routes on a front (admin key, or loopback without keys: admin_access.hpp):
// GET /cluster (the nodes as the router sees them, and the autoscaler's decisions), POST
// /cluster/drain and /cluster/undrain.
#include <nlohmann/json.hpp>

#include "net/api/gateway_impl.hpp"
#include "net/api/json_fields.hpp"
#include "net/wire/json_view.hpp"

namespace troupe::api {

void GatewayCore::cluster(Call& call) {
  parts.service->cluster_now([this, call](const wire::ClusterStatus& status) mutable {
    nlohmann::json body = wire::json_view(status);
    if (status.autoscaler.mode.empty()) body.erase("autoscaler");  // this front does not autoscale
    reply_json(call, 200, body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  });
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
  parts.service->drain_node(*node, [this, call, node = *node](bool known) mutable {
    if (!known) return reply_error(call, node_not_found(node));
    reply_json(call, 200, nlohmann::json{{"node", node}, {"draining", true}}.dump());
  });
}

void GatewayCore::undrain_node(Call& call) {
  const auto node = node_named_in(*this, call);
  if (!node) return;
  parts.service->undrain_node(*node, [this, call, node = *node](UndrainResult result) mutable {
    switch (result) {
      case UndrainResult::undrained:
        return reply_json(call, 200, nlohmann::json{{"node", node}, {"draining", false}}.dump());
      case UndrainResult::unknown:
        return reply_error(call, node_not_found(node));
      case UndrainResult::leaving:
        return reply_error(call, {409,
                                  "node '" + node +
                                      "' was told to drain and is leaving the cluster; start it "
                                      "again and it rejoins",
                                  "invalid_request_error", "node", "node_leaving"});
    }
  });
}

}  // namespace troupe::api
