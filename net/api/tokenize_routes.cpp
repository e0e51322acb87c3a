// vLLM's POST /tokenize and /detokenize: the served model's tokenizer over HTTP.
#include <nlohmann/json.hpp>

#include "net/api/gateway_impl.hpp"
#include "net/api/json_fields.hpp"

namespace troupe::api {

void GatewayCore::tokenize(Call& call) {
  JsonFields fields(call.request.body);
  std::string prompt;
  bool add_special_tokens = true;
  fields.read_string("prompt", prompt);
  fields.read_bool("add_special_tokens", add_special_tokens);
  if (!fields.error && !fields.has("prompt")) fields.fail("prompt", "'prompt' is required");
  if (fields.error) return reply_error(call, *fields.error);
  const auto tokens = parts.tokenizer->encode(prompt, add_special_tokens, true);
  reply_json(call, 200,
             nlohmann::json{{"tokens", tokens},
                            {"count", tokens.size()},
                            {"max_model_len", config.limits.max_model_len}}
                 .dump());
}

void GatewayCore::detokenize(Call& call) {
  JsonFields fields(call.request.body);
  if (!fields.error && !fields.has("tokens")) fields.fail("tokens", "'tokens' is required");
  std::vector<int32_t> tokens;
  if (!fields.error) {
    const auto& list = fields.json()["tokens"];
    const auto vocab = static_cast<long long>(parts.tokenizer->vocab_size());
    if (!list.is_array()) fields.fail("tokens", "'tokens' must be an array of token ids");
    for (const auto& id : list) {
      if (fields.error) break;
      if (!id.is_number_integer() || id.get<long long>() < 0 || id.get<long long>() >= vocab) {
        fields.fail("tokens", "'tokens' must hold token ids in [0, " + std::to_string(vocab) + ")");
        break;
      }
      tokens.push_back(id.get<int32_t>());
    }
  }
  if (fields.error) return reply_error(call, *fields.error);
  reply_json(call, 200,
             nlohmann::json{{"prompt", parts.tokenizer->decode(tokens)}}.dump(
                 -1, ' ', false, nlohmann::json::error_handler_t::replace));
}

}  // namespace troupe::api
