// POST /v1/chat/completions, POST /v1/completions, POST /v1/responses, GET /v1/models.
#include <spdlog/spdlog.h>
#include <chrono>
#include <nlohmann/json.hpp>

#include "net/api/completion_format.hpp"
#include "net/api/embeddings_format.hpp"
#include "net/api/embeddings_request.hpp"
#include "net/api/gateway_impl.hpp"
#include "net/api/openai_exchange.hpp"
#include "net/api/responses_format.hpp"
#include "net/api/responses_request.hpp"

namespace troupe::api {
namespace {

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::optional<ApiError> unknown_model(const ApiGeneration& call, const std::string& served) {
  if (call.model.empty() || call.model == served) return std::nullopt;
  ApiError error;
  error.status = 404;
  error.param = "model";
  error.code = "model_not_found";
  error.message =
      "The model '" + call.model + "' does not exist; this server serves '" + served + "'.";
  return error;
}

// One log line naming the fields a request carried that troupe ignores (vLLM's warning), with
// anything unprintable shown as '?' so a client cannot forge log lines.
void warn_ignored_fields(const std::string& id, const std::vector<std::string>& names) {
  std::string list;
  for (const auto& name : names) {
    if (!list.empty()) list += ", ";
    for (const unsigned char c : name) list += c >= 0x20 && c < 0x7f ? static_cast<char>(c) : '?';
  }
  spdlog::warn("request id={} ignored fields this server does not know: {}", id, list);
}

void run_openai(GatewayCore& gateway, Call& call, bool chat) {
  ApiGeneration decoded;
  auto error = chat ? decode_chat_request(call.request.body, gateway.config.limits, decoded)
                    : decode_completion_request(call.request.body, gateway.config.limits, decoded);
  if (!error) error = unknown_model(decoded, gateway.config.model_name);
  if (error) return gateway.reply_error(call, *error);

  ResponseShape shape;
  shape.chat = chat;
  shape.id = gateway.new_id(chat ? "chatcmpl" : "cmpl");
  if (!decoded.ignored_fields.empty()) warn_ignored_fields(shape.id, decoded.ignored_fields);
  shape.model = gateway.config.model_name;
  shape.created = unix_now();
  shape.include_usage = decoded.include_usage;
  shape.logprobs = decoded.logprobs;
  shape.top_logprobs = decoded.top_logprobs;
  shape.tokenizer = gateway.parts.tokenizer;
  shape.tools = decoded.tools.active();
  shape.tool_syntax = decoded.tools.syntax;
  for (size_t i = 0; i < decoded.requests.size(); ++i) {
    decoded.requests[i].id =
        shape.id + (decoded.requests.size() > 1 ? "-" + std::to_string(i) : "");
  }
  OpenAiExchange::Flow flow{decoded.stream, decoded.requests.front().sampling.n,
                            static_cast<int>(decoded.requests.size()), shape.id};
  auto exchange = std::make_shared<OpenAiExchange>(
      std::move(flow), std::make_unique<CompletionFormat>(std::move(shape)), call.sink,
      gateway.observer(call, decoded.requests), call.cors);
  exchange->set_cancel_all(gateway.submit_all(
      call, std::move(decoded.requests), [&](int prompt) { return exchange->listener(prompt); },
      [exchange] { exchange->cancelled(); }));
}

// POST /v1/responses: one chat request, answered as a response object or its events.
void run_responses(GatewayCore& gateway, Call& call) {
  ResponsesCall decoded;
  auto error = decode_responses_request(call.request.body, gateway.config.limits, decoded);
  if (!error) error = unknown_model(decoded.generation, gateway.config.model_name);
  if (error) return gateway.reply_error(call, *error);
  ApiGeneration& generation = decoded.generation;

  ResponsesShape shape;
  shape.id = gateway.new_id("resp");
  if (!generation.ignored_fields.empty()) warn_ignored_fields(shape.id, generation.ignored_fields);
  shape.model = gateway.config.model_name;
  shape.created = unix_now();
  shape.tools = generation.tools.active();
  shape.tool_syntax = generation.tools.syntax;
  shape.echoed = std::move(decoded.echoed);
  generation.requests.front().id = shape.id;
  OpenAiExchange::Flow flow{generation.stream, 1, 1, shape.id};
  auto exchange = std::make_shared<OpenAiExchange>(
      std::move(flow), std::make_unique<ResponsesFormat>(std::move(shape)), call.sink,
      gateway.observer(call, generation.requests), call.cors);
  gateway.submit_all(
      call, std::move(generation.requests), [&](int prompt) { return exchange->listener(prompt); },
      [exchange] { exchange->cancelled(); });
}

// POST /v1/embeddings: one engine request per input, answered together.
void run_embeddings(GatewayCore& gateway, Call& call) {
  EmbeddingsCall decoded;
  auto error = decode_embeddings_request(call.request.body, gateway.config.limits, decoded);
  if (!error) error = unknown_model(decoded.generation, gateway.config.model_name);
  if (error) return gateway.reply_error(call, *error);
  auto& requests = decoded.generation.requests;
  const std::string id = gateway.new_id("embd");
  if (!decoded.generation.ignored_fields.empty()) {
    warn_ignored_fields(id, decoded.generation.ignored_fields);
  }
  for (size_t i = 0; i < requests.size(); ++i) requests[i].id = id + "-" + std::to_string(i);
  OpenAiExchange::Flow flow{false, 1, static_cast<int>(requests.size()), id};
  auto exchange = std::make_shared<OpenAiExchange>(
      std::move(flow),
      std::make_unique<EmbeddingsFormat>(gateway.config.model_name, decoded.base64), call.sink,
      gateway.observer(call, requests), call.cors);
  exchange->set_cancel_all(gateway.submit_all(
      call, std::move(requests), [&](int prompt) { return exchange->listener(prompt); },
      [exchange] { exchange->cancelled(); }));
}

}  // namespace

void GatewayCore::embeddings(Call& call) {
  run_embeddings(*this, call);
}

void GatewayCore::responses(Call& call) {
  run_responses(*this, call);
}

void GatewayCore::chat_completions(Call& call) {
  run_openai(*this, call, true);
}

void GatewayCore::completions(Call& call) {
  run_openai(*this, call, false);
}

void GatewayCore::models(Call& call) {
  nlohmann::json model = {{"id", config.model_name},
                          {"object", "model"},
                          {"created", config.created},
                          {"owned_by", "troupe"},
                          {"max_model_len", config.limits.max_model_len}};
  reply_json(call, 200,
             nlohmann::json{{"object", "list"}, {"data", nlohmann::json::array({model})}}.dump());
}

}  // namespace troupe::api
