#include "net/api/tgi_request.hpp"

#include "net/api/json_fields.hpp"
#include "net/api/structured_output.hpp"

namespace troupe::api {

std::optional<ApiError> decode_tgi_request(std::string_view body, const ApiLimits& limits,
                                           TgiGeneration& out) {
  out = TgiGeneration{};
  JsonFields fields(body);
  auto& request = out.request;
  fields.read_string("inputs", request.prompt);
  if (!fields.error && request.prompt.empty()) fields.fail("inputs", "'inputs' must not be empty");
  if (fields.error) return fields.error;

  auto& sampling = request.sampling;
  sampling.max_tokens = std::min(100, limits.max_model_len - 1);
  sampling.temperature = 0;  // greedy unless asked to sample
  if (!fields.has("parameters")) return std::nullopt;
  const auto& p = fields.json()["parameters"];
  if (!p.is_object()) return bad_parameter("parameters", "'parameters' must be an object");
  JsonFields params(p.dump());
  bool do_sample = false;
  float temperature = 1.0f;
  params.read_bool("do_sample", do_sample);
  params.read_number("temperature", temperature, 0, 100, /*min_exclusive=*/true);
  params.read_int("max_new_tokens", sampling.max_tokens, 1, limits.max_model_len - 1);
  params.read_number("top_p", sampling.top_p, 0, 1, true);
  params.read_int("top_k", sampling.top_k, 1, std::numeric_limits<int32_t>::max());
  params.read_number("repetition_penalty", sampling.repetition_penalty, 0, 100, true);
  params.read_number("frequency_penalty", sampling.frequency_penalty, -2, 2);
  params.read_bool("details", out.details);
  if (params.has("seed")) {
    const auto& seed = params.json()["seed"];
    if (!seed.is_number_unsigned())
      return bad_parameter("seed", "'seed' must be a non-negative integer");
    sampling.seed = seed.get<uint64_t>();
  }
  if (params.has("stop")) {
    const auto& stop = params.json()["stop"];
    if (!stop.is_array()) return bad_parameter("stop", "'stop' must be an array of strings");
    for (const auto& s : stop) {
      if (!s.is_string()) return bad_parameter("stop", "'stop' must hold strings");
      sampling.stop.push_back(s.get<std::string>());
    }
    if (auto problem = stop_list_problem(sampling.stop)) return bad_parameter("stop", *problem);
  }
  if (params.has("best_of")) {
    int best_of = 1;
    params.read_int("best_of", best_of, 1, 1);
  }
  read_tgi_grammar(params, body, sampling);
  if (params.error) return params.error;
  if (do_sample || params.has("temperature")) sampling.temperature = temperature;
  return std::nullopt;
}

std::string tgi_error_json(const ApiError& error) {
  const char* type = error.status == 429 || error.status == 503 ? "overloaded"
                     : error.status < 500                       ? "validation"
                                                                : "generation";
  return nlohmann::json{{"error", error.message}, {"error_type", type}}.dump(
      -1, ' ', false, nlohmann::json::error_handler_t::replace);
}

int tgi_status(const ApiError& error) {
  return error.status == 400 ? 422 : error.status;
}

}  // namespace troupe::api
