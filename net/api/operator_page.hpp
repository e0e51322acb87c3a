#pragma once
// GET /operator: the operator's view beside the chat page, built into the binary. It polls the
// front's GET /cluster (an admin route: the page asks for the admin key unless the front has
// no keys and is on loopback) and GET /metrics, and draws the cluster's nodes, queue, KV use,
// tokens/s and TTFT over the last minutes, and the autoscaler's decisions with their reasons.
#include <string_view>

namespace troupe::api {

extern const std::string_view kOperatorPageHtml;

}  // namespace troupe::api
