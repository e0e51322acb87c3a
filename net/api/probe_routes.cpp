#include "net/api/probe_routes.hpp"

#include <nlohmann/json.hpp>

#include "net/api/api_error.hpp"

namespace troupe::api {
namespace {

http::Response json_response(int status, const nlohmann::json& body) {
  return {status, "application/json", body.dump(), {}};
}

}  // namespace

wire::HealthReport loading_report() {
  wire::HealthReport loading;
  loading.live = true;
  loading.reason = "loading the model";
  return loading;
}

void ProbeRoutes::handle(http::Request request, std::shared_ptr<http::ResponseSink> sink) {
  const bool known = request.path == "/live" || request.path == "/health";
  if (!known && other_ == OtherPaths::loading) {
    ApiError error;
    error.status = 503;
    error.type = "service_unavailable_error";
    error.message = "the model is still loading; retry shortly";
    error.retry_after_seconds = 2;
    return sink->respond(error_response(error));
  }
  if (!known || request.method != "GET") {
    ApiError error;
    error.status = known ? 405 : 404;
    error.message =
        known ? "method " + request.method + " is not allowed on " + request.path + " (use GET)"
              : "no route for " + request.path + " (this port answers /live and /health)";
    http::Headers headers;
    if (known) headers.emplace_back("Allow", "GET");
    return sink->respond(error_response(error, std::move(headers)));
  }
  if (request.path == "/live") return sink->respond(json_response(200, {{"status", "alive"}}));
  sources_.node_health([sink, joined = sources_.joined()](wire::HealthReport report) {
    const bool ready = report.ready && joined;
    nlohmann::json body = {{"status", ready             ? "ok"
                                      : report.draining ? "draining"
                                      : !report.ready   ? "loading"
                                                        : "joining"},
                           {"ready", ready},
                           {"draining", report.draining},
                           {"joined", joined},
                           {"restarts", report.restarts}};
    if (!report.reason.empty()) body["reason"] = report.reason;
    sink->respond(json_response(ready ? 200 : 503, body));
  });
}

http::Response ProbeRoutes::transport_error(int status, const std::string& message) const {
  ApiError error;
  error.status = status;
  error.message = message;
  return error_response(error);
}

}  // namespace troupe::api
