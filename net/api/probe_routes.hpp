#pragma once
// The probe port of a node without the API (troupe worker --health-port): what Kubernetes'
// probes and a load balancer ask, and nothing else. GET /live: 200 while the process answers,
// draining included. GET /health: 200 once the model is loaded, the node has joined its front
// and it admits requests; 503 while loading, joining or draining. Any other path is a 404 (on
// troupe serve's port while its model loads: a 503 with Retry-After, as the API will be there
// and a load balancer should try another instance), any other method a 405, in OpenAI's error
// shape.
#include <functional>
#include <memory>

#include "net/http/http_exchange.hpp"
#include "net/http/http_server.hpp"
#include "net/wire/messages.hpp"

namespace troupe::api {

struct ProbeSources {
  // Asks the node for its health and answers on any thread (a report that says not live when
  // the node did not answer).
  std::function<void(std::function<void(wire::HealthReport)>)> node_health;
  // Whether the front has accepted the node and is still there.
  std::function<bool()> joined;
};

// What a node says while its model loads: live, not ready, "loading the model".
wire::HealthReport loading_report();

class ProbeRoutes final : public http::Handler, public http::TransportEvents {
 public:
  // What the port says of a path that is not a probe.
  enum class OtherPaths {
    not_found,  // a worker's --health-port: the API never comes here
    loading,    // troupe serve's port before its gateway takes over
  };
  explicit ProbeRoutes(ProbeSources sources, OtherPaths other = OtherPaths::not_found)
      : sources_(std::move(sources)), other_(other) {}
  void handle(http::Request request, std::shared_ptr<http::ResponseSink> sink) override;
  http::Response transport_error(int status, const std::string& message) const override;

 private:
  ProbeSources sources_;
  OtherPaths other_;
};

}  // namespace troupe::api
