#include "net/api/gateway.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <random>

#include "net/api/gateway_impl.hpp"
#include "net/api/token_reservation.hpp"
#include "net/auth/admin_access.hpp"

namespace troupe::api {
namespace {

using Clock = std::chrono::steady_clock;

void log_line(bool json, const std::string& id, const std::string& key, const std::string& route,
              int status, int prompt_tokens, int completion_tokens, double ttft_s, double e2e_s,
              const std::string& error) {
  const double ttft_ms = ttft_s < 0 ? -1 : std::round(ttft_s * 1e4) / 10;
  const double latency_ms = std::round(e2e_s * 1e4) / 10;
  if (json) {
    nlohmann::json line = {{"event", "request"},
                           {"id", id},
                           {"key", key},
                           {"route", route},
                           {"status", status},
                           {"prompt_tokens", prompt_tokens},
                           {"completion_tokens", completion_tokens},
                           {"ttft_ms", ttft_ms},
                           {"latency_ms", latency_ms},
                           {"error", error}};
    spdlog::info("{}", line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  } else {
    spdlog::info(
        "request id={} key={} route={} status={} prompt_tokens={} completion_tokens={} "
        "ttft_ms={} latency_ms={}{}",
        id, key, route, status, prompt_tokens, completion_tokens, ttft_ms, latency_ms,
        error.empty() ? "" : " error=" + error);
  }
}

// Per generation call: its tokens reserved against the key's limit when it starts; metrics as
// tokens arrive; usage, the settled rate-limit charge and the log line at the end.
class CallObserver final : public ExchangeObserver {
 public:
  CallObserver(GatewayCore& gateway, std::string key_name, std::string route, int64_t reserved)
      : gateway_(gateway),
        key_name_(std::move(key_name)),
        route_(std::move(route)),
        reserved_(reserved) {
    if (auto* limiter = gateway_.parts.limiter) {
      limiter->charge_tokens(key_name_, reserved_, Clock::now());
    }
  }
  void first_token(double seconds) override {
    if (auto* m = gateway_.parts.metrics) m->observe_first_token(seconds);
  }
  void inter_token(double seconds) override {
    if (auto* m = gateway_.parts.metrics) m->observe_inter_token(seconds);
  }
  void queue_time(double seconds) override {
    if (auto* m = gateway_.parts.metrics) m->observe_queue_time(seconds);
  }
  void charge(int prompt_tokens, int completion_tokens) override {
    if (settled_.exchange(true)) return;
    if (auto* limiter = gateway_.parts.limiter) {  // the reservation becomes what was used
      limiter->charge_tokens(key_name_, int64_t{prompt_tokens} + completion_tokens - reserved_,
                             Clock::now());
    }
  }
  void ended(const ExchangeSummary& s) override {
    const auto& parts = gateway_.parts;
    struct Done {  // whatever happens below, the call is over
      std::atomic<int>& calls;
      ~Done() { --calls; }
    } done{gateway_.calls_in_flight};
    if (auto* m = parts.metrics) {
      m->record_http_response(route_, s.status, key_name_);
      if (refused_before_running(s)) {
        m->record_request_rejected(key_name_, s.error);
      } else {
        m->record_request_end(
            key_name_, s.e2e_seconds, s.prompt_tokens, s.completion_tokens,
            s.error.empty() || s.finish_reason == "abort" ? s.finish_reason : "error");
      }
    }
    if (parts.usage) {
      auto recorded = parts.usage->record(key_name_, s.prompt_tokens, s.completion_tokens);
      if (!recorded) spdlog::warn("usage ledger: {}", recorded.message());
    }
    log_line(gateway_.config.log_json, s.request_id, key_name_, route_, s.status, s.prompt_tokens,
             s.completion_tokens, s.ttft_seconds, s.e2e_seconds, s.error);
  }

 private:
  GatewayCore& gateway_;
  std::string key_name_;
  std::string route_;
  int64_t reserved_;
  std::atomic<bool> settled_{false};
};

struct Route {
  const char* method;
  const char* path;
  void (GatewayCore::*handler)(Call&);
  bool open;           // no API key needed
  bool generation;     // rate-limited, logged by its exchange
  bool admin = false;  // an admin key, or loopback when no keys are configured (admin_access)
};

const Route kRoutes[] = {
    {"POST", "/v1/chat/completions", &GatewayCore::chat_completions, false, true},
    {"POST", "/v1/completions", &GatewayCore::completions, false, true},
    {"POST", "/v1/responses", &GatewayCore::responses, false, true},
    {"POST", "/v1/embeddings", &GatewayCore::embeddings, false, true},
    {"GET", "/v1/models", &GatewayCore::models, false, false},
    {"POST", "/tokenize", &GatewayCore::tokenize, false, false},
    {"POST", "/detokenize", &GatewayCore::detokenize, false, false},
    {"POST", "/generate", &GatewayCore::tgi_generate, false, true},
    {"POST", "/generate_stream", &GatewayCore::tgi_generate_stream, false, true},
    {"GET", "/info", &GatewayCore::tgi_info, false, false},
    {"GET", "/", &GatewayCore::chat_page, true, false},
    // The page only; the data it shows comes from the admin route /cluster.
    {"GET", "/operator", &GatewayCore::operator_page, true, false},
    {"GET", "/health", &GatewayCore::health, true, false},
    {"GET", "/live", &GatewayCore::live, true, false},
    {"GET", "/cluster", &GatewayCore::cluster, false, false, true},
    {"POST", "/cluster/drain", &GatewayCore::drain_node, false, false, true},
    {"POST", "/cluster/undrain", &GatewayCore::undrain_node, false, false, true},
    {"GET", "/metrics", &GatewayCore::metrics, true, false},
};

std::string random_hex(int digits) {
  std::random_device device;
  std::mt19937_64 rng(device());
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < digits; ++i) out += kHex[rng() % 16];
  return out;
}

ApiError admin_refusal(auth::AdminAccess access) {
  ApiError error;
  error.status = access == auth::AdminAccess::no_key ? 401 : 403;
  error.type = access == auth::AdminAccess::no_key ? "invalid_request_error" : "permission_error";
  error.code = access == auth::AdminAccess::no_key ? "invalid_api_key" : "admin_only";
  error.message =
      access == auth::AdminAccess::no_key
          ? "Incorrect API key provided. Send it as 'Authorization: Bearer <key>'."
      : access == auth::AdminAccess::not_admin
          ? "this route needs an admin key (--admin-api-key, or role: admin in the keys file)"
      : access == auth::AdminAccess::proxied
          ? "with no API keys configured, admin routes answer only to callers on this host, "
            "not through a proxy; configure --admin-api-key to call them through one"
      : access == auth::AdminAccess::another_name
          ? "with no API keys configured, admin routes answer only requests that name this "
            "host (Host and Origin localhost or a loopback address), not a web page's from "
            "elsewhere; configure --admin-api-key to call them so"
          : "with no API keys configured, admin routes answer only on loopback; configure "
            "--admin-api-key to call them from elsewhere";
  return error;
}

// Whether a request's body is declared JSON. An admin POST must be: a web page can send a
// text/plain or form POST to 127.0.0.1 with no preflight, and with no keys configured loopback
// is all an admin route asks for.
bool declares_json(const http::Request& request) {
  std::string type = request.header("content-type");
  type = type.substr(0, type.find(';'));
  while (!type.empty() && type.back() == ' ') type.pop_back();
  std::transform(type.begin(), type.end(), type.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return type == "application/json";
}

bool origin_allowed(const std::vector<std::string>& allowed, const std::string& origin) {
  return std::find(allowed.begin(), allowed.end(), "*") != allowed.end() ||
         std::find(allowed.begin(), allowed.end(), origin) != allowed.end();
}

}  // namespace

GatewayCore::GatewayCore(GatewayConfig c, GatewayParts p)
    : config(std::move(c)), parts(p), id_prefix(random_hex(12)) {}

std::string GatewayCore::new_id(const char* kind) {
  char counter[17];
  std::snprintf(counter, sizeof counter, "%012llx",
                static_cast<unsigned long long>(next_id.fetch_add(1)));
  return std::string(kind) + "-" + id_prefix + counter;
}

void GatewayCore::reply_json(Call& call, int status, std::string body) {
  call.sink->respond({status, "application/json", std::move(body), call.cors});
}

void GatewayCore::reply_html(Call& call, std::string_view page) {
  call.sink->respond({200, "text/html; charset=utf-8", std::string(page), call.cors});
}

void GatewayCore::reply_error(Call& call, const ApiError& error) {
  call.sink->respond(error_response(error, call.cors));
}

std::shared_ptr<ExchangeObserver> GatewayCore::observer(
    const Call& call, const std::vector<GenerateRequest>& requests) {
  call.recording->hand_over();
  return std::make_shared<CallObserver>(*this, call.key_name, call.route,
                                        token_reservation(requests, config.limits.max_model_len));
}

std::function<void()> GatewayCore::submit_all(
    Call& call, std::vector<GenerateRequest> requests,
    const std::function<std::shared_ptr<GenerationListener>(int)>& listener_of,
    std::function<void()> on_cancel) {
  ++calls_in_flight;  // until its observer's ended()
  auto cancels = std::make_shared<std::vector<std::function<void()>>>();
  for (size_t i = 0; i < requests.size(); ++i) {
    cancels->push_back(
        parts.service->submit(std::move(requests[i]), listener_of(static_cast<int>(i))));
  }
  auto cancel_all = [cancels] {
    for (auto& cancel : *cancels) cancel();
  };
  call.sink->on_disconnect([cancel_all, on_cancel = std::move(on_cancel)] {
    cancel_all();
    on_cancel();
  });
  return cancel_all;
}

Gateway::Gateway(GatewayConfig config, GatewayParts parts)
    : impl_(std::make_unique<GatewayCore>(std::move(config), parts)) {}

Gateway::~Gateway() = default;

int Gateway::calls_in_flight() const {
  return impl_->calls_in_flight.load();
}

void Gateway::connections_changed(int open) const {
  if (auto* m = impl_->parts.metrics) m->set_open_connections(open);
}

http::Response Gateway::transport_error(int status, const std::string& message) const {
  if (auto* m = impl_->parts.metrics) m->record_http_response("transport", status, "");
  ApiError error;
  error.status = status;
  error.message = message;
  if (status == 503) {
    error.type = "service_unavailable_error";
    error.retry_after_seconds = 1;
  }
  return error_response(error);
}

void Gateway::handle(http::Request request, std::shared_ptr<http::ResponseSink> sink) {
  auto& impl = *impl_;
  Call call;
  const std::string origin = request.header("origin");
  if (!origin.empty() && origin_allowed(impl.config.allowed_origins, origin)) {
    call.cors = {{"Access-Control-Allow-Origin", origin}, {"Vary", "Origin"}};
  }
  if (request.method == "OPTIONS") {  // a CORS preflight
    call.cors.emplace_back("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
    call.cors.emplace_back("Access-Control-Allow-Headers", "Authorization, Content-Type");
    call.cors.emplace_back("Access-Control-Max-Age", "600");
    sink->respond({204, "", "", call.cors});
    return;
  }
  const Route* route = nullptr;
  std::string allowed_methods;  // of the path, for a 405's Allow header
  for (const auto& r : kRoutes) {
    if (request.path != r.path) continue;
    allowed_methods += (allowed_methods.empty() ? "" : ", ") + std::string(r.method);
    // HEAD is GET without the body (the session sends the head alone).
    if (request.method == r.method || (request.method == "HEAD" && r.method == std::string("GET")))
      route = &r;
  }
  call.route = route ? route->path : "other";
  auto recording = std::make_shared<RecordingSink>(std::move(sink), impl.parts.metrics, call.route);
  call.sink = recording;
  call.recording = recording.get();
  call.key_name = "anonymous";
  if (!route) {
    ApiError error;
    error.status = allowed_methods.empty() ? 404 : 405;
    error.message = allowed_methods.empty() ? "no route for " + request.path
                                            : "method " + request.method + " is not allowed on " +
                                                  request.path + " (use " + allowed_methods + ")";
    if (!allowed_methods.empty()) call.cors.emplace_back("Allow", allowed_methods);
    return impl.reply_error(call, error);
  }
  const bool needs_key =
      !route->open || (route->handler == &GatewayCore::metrics && impl.config.protect_metrics);
  const auth::KeyPolicy* key = nullptr;
  if (impl.parts.keys && impl.parts.keys->enabled()) {
    key = impl.parts.keys->authenticate(request.header("authorization"));
    if (key) call.key_name = key->name;
    recording->set_key(call.key_name);
    if (needs_key && !key) {
      ApiError error;
      error.status = 401;
      error.message = "Incorrect API key provided. Send it as 'Authorization: Bearer <key>'.";
      error.code = "invalid_api_key";
      return impl.reply_error(call, error);
    }
  }
  if (route->admin) {
    const bool keys_enabled = impl.parts.keys && impl.parts.keys->enabled();
    const auto access = auth::admin_access(keys_enabled, key, request.remote, request.headers);
    if (access != auth::AdminAccess::allowed) return impl.reply_error(call, admin_refusal(access));
    if (request.method == "POST" && !declares_json(request)) {
      ApiError error;
      error.status = 415;
      error.message = "admin routes take a JSON body: send 'Content-Type: application/json'";
      return impl.reply_error(call, error);
    }
  }
  if (route->generation && key && impl.parts.limiter) {
    const auto admission = impl.parts.limiter->admit(*key, Clock::now());
    if (!admission.allowed) {
      ApiError error;
      error.status = 429;
      error.type = "rate_limit_exceeded";
      error.code = "rate_limit_exceeded";
      error.message =
          std::string("rate limit reached for key '") + key->name + "' (" +
          (admission.refused_by == auth::RateLimit::tokens_per_minute ? "tokens per minute"
                                                                      : "requests per minute") +
          "); retry later";
      error.retry_after_seconds =
          std::max(1, static_cast<int>(std::ceil(admission.retry_after_seconds)));
      return impl.reply_error(call, error);
    }
  }
  call.request = std::move(request);
  const auto started = Clock::now();
  try {
    (impl.*(route->handler))(call);
  } catch (const std::exception& e) {
    // Bad input gets its 400 from the decoders; an exception here is a bug, and it must cost
    // this call an error answer, not the process (the HTTP thread has nothing above it).
    spdlog::error("{} {}: internal error: {}", call.request.method, call.route, e.what());
    if (recording->status() == 0) {
      ApiError error;
      error.status = 500;
      error.type = "server_error";
      error.message = "internal error while handling this request; the server's log names it";
      impl.reply_error(call, error);
    }
  }
  if (!route->generation && route->handler != &GatewayCore::health &&
      route->handler != &GatewayCore::live && route->handler != &GatewayCore::metrics) {
    log_line(impl.config.log_json, "-", call.key_name, call.route, recording->status(), 0, 0, -1,
             std::chrono::duration<double>(Clock::now() - started).count(), "");
  }
}

}  // namespace troupe::api
