// The operational routes every node answers: GET /health (readiness, for load balancers and
// Kubernetes' readiness probe: 503 while loading, draining, or on a routing front while no node
// is routable), GET /live (liveness: 200 while the process answers, draining included, so that a
// drain is never mistaken for a hang and restarted) and GET /metrics (Prometheus text: the serving
// metrics, then, on a routing front, the cluster's nodes and the autoscaler).
#include <nlohmann/json.hpp>

#include "net/api/gateway_impl.hpp"
#include "net/metrics/cluster_metrics.hpp"
#include "net/metrics/tensor_parallel_metrics.hpp"
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

void GatewayCore::live(Call& call) {
  reply_json(call, 200, R"({"status":"alive"})");
}

void GatewayCore::metrics(Call& call) {
  if (!parts.metrics) return reply_json(call, 404, "{}");
  parts.service->health_now([this, call](const wire::HealthReport& report) mutable {
    const wire::ReplicaTotals t = wire::sum_replicas(report.replicas);
    parts.metrics->set_replica_load(t.running, t.waiting, t.kv_usage(), t.prefix_cache_queries,
                                    t.prefix_cache_hits, t.preemptions);
    std::string text = parts.metrics->render();
    text += metrics::render_tensor_parallel_metrics(report.replicas);
    text += metrics::render_cluster_metrics(parts.service->cluster());
    call.sink->respond(
        {200, "text/plain; version=0.0.4; charset=utf-8", std::move(text), call.cors});
  });
}

}  // namespace troupe::api
