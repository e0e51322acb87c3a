#include "net/api/embeddings_request.hpp"

#include <set>

#include "net/api/json_fields.hpp"

namespace troupe::api {
namespace {

using nlohmann::json;

// Each input is a request to the engine, which batches them into as few steps as its token
// budget allows. OpenAI takes up to 2,048 a call; here a call must leave room in the waiting
// queue (--max-waiting, 1,024 by default) for other clients, or it would fail as overloaded.
constexpr size_t kMaxInputs = 512;

const std::set<std::string> kFields = {"model",      "input", "encoding_format",
                                       "dimensions", "user",  "pooling"};

bool is_token_list(const json& value, int vocab_size) {
  if (!value.is_array() || value.empty()) return false;
  for (const json& id : value) {
    if (!id.is_number_integer() || id.get<long long>() < 0 ||
        (vocab_size > 0 && id.get<long long>() >= vocab_size)) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::optional<ApiError> decode_embeddings_request(std::string_view body, const ApiLimits& limits,
                                                  EmbeddingsCall& out) {
  JsonFields fields(body);
  out = EmbeddingsCall{};
  ApiGeneration& call = out.generation;
  call.chat = false;
  fields.read_string("model", call.model);
  fields.read_string("user", call.user);
  std::string encoding = "float";
  fields.read_string("encoding_format", encoding);
  if (!fields.error && encoding != "float" && encoding != "base64") {
    fields.fail("encoding_format", "'encoding_format' must be \"float\" or \"base64\"");
  }
  out.base64 = encoding == "base64";
  int dimensions = limits.embedding_dim;
  fields.read_int("dimensions", dimensions, 1, std::numeric_limits<int32_t>::max());
  if (!fields.error && limits.embedding_dim > 0 && dimensions != limits.embedding_dim) {
    fields.fail("dimensions", "this model's embeddings have " +
                                  std::to_string(limits.embedding_dim) +
                                  " dimensions and cannot be shortened");
  }
  std::string pooling_name = "mean";
  fields.read_string("pooling", pooling_name);
  if (!fields.error && pooling_name != "mean" && pooling_name != "last") {
    fields.fail("pooling", "'pooling' must be \"mean\" or \"last\"");
  }
  if (!fields.error && !fields.has("input")) fields.fail("input", "'input' is required");
  if (fields.error) return fields.error;

  SamplingParams sampling;
  sampling.pooling = pooling_name == "last" ? Pooling::last : Pooling::mean;
  sampling.max_tokens = 1;  // nothing is generated; the prompt must still fit the context
  sampling.temperature = 0;
  const json& input = fields.json()["input"];
  std::vector<const json*> inputs;
  // One input: a string, or token ids (an array of numbers, checked below).
  const bool single =
      input.is_string() || (input.is_array() && !input.empty() && input[0].is_number());
  if (single) {
    inputs.push_back(&input);
  } else if (input.is_array() && !input.empty()) {
    for (const json& one : input) inputs.push_back(&one);
  }
  if (inputs.empty()) {
    return bad_parameter("input",
                         "'input' must be a string, an array of strings, or token ids (an array "
                         "of them, or an array of such arrays), and not empty");
  }
  if (inputs.size() > kMaxInputs) {
    return bad_parameter("input", "at most " + std::to_string(kMaxInputs) + " inputs per request");
  }
  for (size_t i = 0; i < inputs.size(); ++i) {
    const json& one = *inputs[i];
    const std::string param = single ? "input" : "input[" + std::to_string(i) + "]";
    GenerateRequest request;
    request.sampling = sampling;
    if (one.is_string() && !one.get_ref<const std::string&>().empty()) {
      request.prompt = one.get<std::string>();
    } else if (is_token_list(one, limits.vocab_size)) {
      request.prompt_tokens = one.get<std::vector<int32_t>>();
    } else {
      return bad_parameter(
          param, "'" + param +
                     "' must be a non-empty string or a non-empty array of "
                     "token ids" +
                     (limits.vocab_size ? " in [0, " + std::to_string(limits.vocab_size) + ")"
                                        : std::string()));
    }
    call.requests.push_back(std::move(request));
  }
  for (const auto& [name, value] : fields.json().items()) {
    if (kFields.count(name)) continue;
    if (call.ignored_fields.size() == 16) break;
    call.ignored_fields.push_back(name.substr(0, 64));
  }
  return std::nullopt;
}

}  // namespace troupe::api
