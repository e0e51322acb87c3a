// The operational routes every node answers: GET /health (liveness and readiness, for load
// balancers and Kubernetes probes) and GET /metrics (Prometheus text).
#include <nlohmann/json.hpp>

#include "net/api/gateway_impl.hpp"
#include "net/wire/replica_totals.hpp"

namespace troupe::api {

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

void GatewayCore::metrics(Call& call) {
  if (!parts.metrics) return reply_json(call, 404, "{}");
  parts.service->health_now([this, call](const wire::HealthReport& report) mutable {
    const wire::ReplicaTotals t = wire::sum_replicas(report.replicas);
    parts.metrics->set_replica_load(t.running, t.waiting, t.kv_usage(), t.prefix_cache_queries,
                                    t.prefix_cache_hits, t.preemptions);
    call.sink->respond(
        {200, "text/plain; version=0.0.4; charset=utf-8", parts.metrics->render(), call.cors});
  });
}

}  // namespace troupe::api
