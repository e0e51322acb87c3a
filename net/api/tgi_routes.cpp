// Text Generation Inference's POST /generate, POST /generate_stream and GET /info.
#include <nlohmann/json.hpp>

#include "net/api/gateway_impl.hpp"
#include "net/api/tgi_exchange.hpp"

namespace troupe::api {
namespace {

void run_tgi(GatewayCore& gateway, Call& call, bool stream) {
  TgiGeneration decoded;
  if (auto error = decode_tgi_request(call.request.body, gateway.config.limits, decoded)) {
    return call.sink->respond(
        error_response(*error, tgi_status(*error), tgi_error_json(*error), call.cors));
  }
  decoded.request.id = gateway.new_id("tgi");
  decoded.request.sampling.logprobs = 1;  // TGI reports every token's log-probability
  std::vector<GenerateRequest> requests;
  requests.push_back(decoded.request);
  auto exchange =
      std::make_shared<TgiExchange>(decoded.request.id, stream, decoded, *gateway.parts.tokenizer,
                                    call.sink, gateway.observer(call, requests), call.cors);
  gateway.submit_all(
      call, std::move(requests), [&](int) { return exchange; },
      [exchange] { exchange->cancelled(); });
}

}  // namespace

void GatewayCore::tgi_generate(Call& call) {
  run_tgi(*this, call, false);
}

void GatewayCore::tgi_generate_stream(Call& call) {
  run_tgi(*this, call, true);
}

void GatewayCore::tgi_info(Call& call) {
  const int context = config.limits.max_model_len;
  nlohmann::json info = {{"model_id", config.model_name},
                         {"model_dtype", "gguf"},
                         {"model_device_type", "cpu"},
                         {"max_best_of", 1},
                         {"max_stop_sequences", 16},
                         {"max_input_tokens", context - 1},
                         {"max_input_length", context - 1},
                         {"max_total_tokens", context},
                         {"router", "troupe"},
                         {"version", "0.1.0"},
                         {"sha", nullptr},
                         {"docker_label", nullptr}};
  reply_json(call, 200, info.dump());
}

}  // namespace troupe::api
