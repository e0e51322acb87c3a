#pragma once
// The HTTP gateway: routes each request, checks its API key and rate limit, decodes the OpenAI,
// TGI and vLLM bodies, hands generations to the GenerationService and answers through the
// sink; records metrics, usage and one log line per request. It implements the HTTP server's
// Handler, so net/http knows nothing of the API and the API nothing of Beast.
#include <memory>
#include <string>
#include <vector>

#include "engine/tokenizer/tokenizer.hpp"
#include "net/api/generation_service.hpp"
#include "net/api/openai_request.hpp"
#include "net/auth/api_keys.hpp"
#include "net/auth/rate_limiter.hpp"
#include "net/http/http_server.hpp"
#include "net/metrics/serving_metrics.hpp"
#include "net/usage/usage_writer.hpp"

namespace troupe::api {

struct GatewayConfig {
  std::string model_name;
  int64_t created = 0;  // unix seconds the model was loaded, for /v1/models
  ApiLimits limits;
  std::vector<std::string> allowed_origins;  // CORS; "*" allows any; empty sends no CORS headers
  bool protect_metrics = false;              // /metrics needs an API key too
  bool log_json = false;                     // request log lines as JSON objects
};

// What the gateway works with; each must outlive it. keys, usage may be null.
struct GatewayParts {
  GenerationService* service = nullptr;
  const Tokenizer* tokenizer = nullptr;
  const auth::ApiKeys* keys = nullptr;
  auth::RateLimiter* limiter = nullptr;
  UsageWriter* usage = nullptr;
  metrics::ServingMetrics* metrics = nullptr;
};

struct GatewayCore;  // gateway_impl.hpp

class Gateway final : public http::Handler, public http::TransportEvents {
 public:
  Gateway(GatewayConfig config, GatewayParts parts);
  ~Gateway() override;

  void handle(http::Request request, std::shared_ptr<http::ResponseSink> sink) override;
  http::Response transport_error(int status, const std::string& message) const override;
  void connections_changed(int open) const override;

  // Generation calls submitted and not yet ended (a graceful stop waits for them).
  int calls_in_flight() const;

 private:
  std::unique_ptr<GatewayCore> impl_;
};

}  // namespace troupe::api
