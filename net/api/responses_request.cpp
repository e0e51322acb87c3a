#include "net/api/responses_request.hpp"

#include <cstring>
#include <set>

#include "net/api/bounded_json.hpp"
#include "net/api/json_fields.hpp"

namespace troupe::api {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

// Read here and carried over into the chat request, or only repeated back.
const std::set<std::string> kKnownFields = {
    "model",       "input", "instructions", "max_output_tokens",
    "temperature", "top_p", "stream",       "user",
    "text",        "tools", "tool_choice",  "parallel_tool_calls",
    "metadata",    "store", "seed"};
// Settings of OpenAI's service that change nothing here; accepted without a warning.
const std::set<std::string> kHarmlessFields = {
    "truncation",       "include",           "reasoning",     "service_tier",
    "prompt_cache_key", "safety_identifier", "stream_options"};

void refuse_stateful(JsonFields& fields) {
  auto refuse = [&](const char* name, const std::string& why) {
    if (fields.error || !fields.has(name)) return;
    if (std::string(name) == "background" && fields.json()[name] == false) return;
    fields.fail(name, std::string("'") + name + "' is not supported by this server: " + why);
    fields.error->code = "unsupported_parameter";
  };
  const std::string stateless =
      "it keeps no responses or conversations; send the whole conversation in 'input'";
  refuse("previous_response_id", stateless);
  refuse("conversation", stateless);
  refuse("background", "responses are answered while the request waits");
  refuse("prompt", "it has no stored prompt templates");
}

// A message's content: a string, or parts of type input_text / output_text.
std::optional<std::string> content_text(JsonFields& fields, const ordered_json& content,
                                        const std::string& param) {
  if (content.is_string()) return content.get<std::string>();
  if (!content.is_array()) {
    fields.fail(param, "'" + param + "' must be a string or an array of content parts");
    return std::nullopt;
  }
  std::string text;
  for (size_t i = 0; i < content.size(); ++i) {
    const ordered_json& part = content[i];
    const std::string part_param = param + "[" + std::to_string(i) + "]";
    const std::string type = part.is_object() && part.contains("type") && part["type"].is_string()
                                 ? part["type"].get<std::string>()
                                 : "";
    if (type != "input_text" && type != "output_text") {
      fields.fail(part_param, type.empty() ? "'" + part_param + "' must be an object with a 'type'"
                                           : "content parts of type '" + type +
                                                 "' are not supported by this text-only model");
      return std::nullopt;
    }
    if (!part.contains("text") || !part["text"].is_string()) {
      fields.fail(part_param, "'" + part_param + "' needs a string 'text'");
      return std::nullopt;
    }
    if (!text.empty()) text += "\n";
    text += part["text"].get<std::string>();
  }
  return text;
}

std::string string_field(const ordered_json& item, const char* name) {
  auto it = item.find(name);
  return it != item.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// `input` as chat messages: text is one user turn; items are messages, function calls (an
// assistant turn's tool_calls; consecutive calls share one turn) and function call outputs
// (tool turns). Reasoning items carry nothing this model reads and are skipped.
ordered_json chat_messages(JsonFields& fields, const ordered_json& input) {
  ordered_json messages = ordered_json::array();
  if (input.is_string()) {
    messages.push_back({{"role", "user"}, {"content", input}});
    return messages;
  }
  if (!input.is_array() || input.empty()) {
    fields.fail("input", "'input' must be a string or a non-empty array of input items");
    return messages;
  }
  static const std::set<std::string> kRoles = {"user", "system", "developer", "assistant"};
  for (size_t i = 0; i < input.size() && !fields.error; ++i) {
    const ordered_json& item = input[i];
    const std::string param = "input[" + std::to_string(i) + "]";
    if (!item.is_object()) {
      fields.fail(param, "'" + param + "' must be an object");
      break;
    }
    const std::string type = item.contains("type") ? string_field(item, "type") : "message";
    if (type == "message") {
      const std::string role = string_field(item, "role");
      if (!kRoles.count(role)) {
        fields.fail(param + ".role",
                    "'" + param + ".role' must be user, system, developer or assistant");
        break;
      }
      if (!item.contains("content")) {
        fields.fail(param + ".content", "'" + param + ".content' is required");
        break;
      }
      auto text = content_text(fields, item["content"], param + ".content");
      if (text) messages.push_back({{"role", role}, {"content", std::move(*text)}});
    } else if (type == "function_call") {
      const std::string name = string_field(item, "name");
      if (name.empty() || !item.contains("arguments") || !item["arguments"].is_string()) {
        fields.fail(param, "a function_call item needs a string 'name' and 'arguments'");
        break;
      }
      ordered_json call = {{"id", string_field(item, "call_id")},
                           {"type", "function"},
                           {"function", {{"name", name}, {"arguments", item["arguments"]}}}};
      const bool joins = !messages.empty() && messages.back().contains("tool_calls");
      if (joins) {
        messages.back()["tool_calls"].push_back(std::move(call));
      } else {
        messages.push_back({{"role", "assistant"},
                            {"content", nullptr},
                            {"tool_calls", ordered_json::array({std::move(call)})}});
      }
    } else if (type == "function_call_output") {
      if (!item.contains("output")) {
        fields.fail(param + ".output", "'" + param + ".output' is required");
        break;
      }
      auto text = content_text(fields, item["output"], param + ".output");
      if (text) {
        messages.push_back({{"role", "tool"},
                            {"tool_call_id", string_field(item, "call_id")},
                            {"content", std::move(*text)}});
      }
    } else if (type != "reasoning") {
      fields.fail(param + ".type", "input items of type '" + type +
                                       "' are not supported by this server (message, "
                                       "function_call, function_call_output)");
    }
  }
  return messages;
}

// Function tools, flat in the Responses API, nested under "function" in chat's.
ordered_json chat_tools(JsonFields& fields, const ordered_json& tools) {
  ordered_json out = ordered_json::array();
  if (!tools.is_array()) {
    fields.fail("tools", "'tools' must be an array");
    return out;
  }
  for (size_t i = 0; i < tools.size() && !fields.error; ++i) {
    const std::string param = "tools[" + std::to_string(i) + "]";
    const std::string type = tools[i].is_object() ? string_field(tools[i], "type") : "";
    if (type != "function") {
      fields.fail(param + ".type",
                  "tools of type '" + type + "' are not supported by this server: only 'function'");
      fields.error->code = "unsupported_parameter";
      break;
    }
    ordered_json function = tools[i];
    function.erase("type");
    function.erase("strict");  // the answer always matches the parameters' schema
    out.push_back({{"type", "function"}, {"function", std::move(function)}});
  }
  return out;
}

ordered_json chat_tool_choice(JsonFields& fields, const ordered_json& choice) {
  if (choice.is_string()) return choice;
  if (choice.is_object() && string_field(choice, "type") == "function" &&
      !string_field(choice, "name").empty()) {
    return {{"type", "function"}, {"function", {{"name", choice["name"]}}}};
  }
  fields.fail("tool_choice",
              "'tool_choice' must be \"auto\", \"none\", \"required\" or {\"type\": "
              "\"function\", \"name\": ...}");
  return nullptr;
}

// text.format as chat's response_format: {"type": "json_schema", name, schema, strict} is
// flat here and nested under "json_schema" there.
ordered_json chat_response_format(JsonFields& fields, const ordered_json& text) {
  if (!text.is_object()) {
    fields.fail("text", "'text' must be an object");
    return nullptr;
  }
  if (!text.contains("format") || text["format"].is_null()) return nullptr;
  const ordered_json& format = text["format"];
  const std::string type = format.is_object() ? string_field(format, "type") : "";
  if (type == "text" || type == "json_object") return {{"type", type}};
  if (type != "json_schema") {
    fields.fail("text.format",
                "'text.format.type' must be \"text\", \"json_object\" or \"json_schema\"");
    return nullptr;
  }
  ordered_json schema = format;
  schema.erase("type");
  return {{"type", "json_schema"}, {"json_schema", std::move(schema)}};
}

// The chat decoder's words for a field, in the Responses API's.
void rename_params(ApiError& error) {
  static const std::pair<const char*, const char*> kNames[] = {
      {"response_format.json_schema", "text.format"},
      {"response_format", "text.format"},
      {"max_tokens", "max_output_tokens"},
      {".function.", "."},
      {"messages", "input"}};
  for (std::string* s : {&error.param, &error.message}) {
    for (const auto& [from, to] : kNames) {
      for (size_t at = s->find(from); at != std::string::npos; at = s->find(from, at)) {
        s->replace(at, std::strlen(from), to);
        at += std::strlen(to);
      }
    }
  }
}

}  // namespace

std::optional<ApiError> decode_responses_request(std::string_view body, const ApiLimits& limits,
                                                 ResponsesCall& out) {
  JsonFields fields(body);
  out = ResponsesCall{};
  refuse_stateful(fields);
  if (fields.error) return fields.error;
  if (!fields.has("input")) return bad_parameter("input", "'input' is required");
  int max_output_tokens = 0;
  fields.read_int("max_output_tokens", max_output_tokens, 1, limits.max_model_len - 1);
  std::string instructions;
  fields.read_string("instructions", instructions);
  if (fields.has("metadata") && !fields.json()["metadata"].is_object()) {
    fields.fail("metadata", "'metadata' must be an object");
  }
  if (auto wide = too_wide_to_order(fields.json(), "")) fields.fail("", *wide);  // parsed whole
  if (fields.error) return fields.error;

  const ordered_json request = ordered_json::parse(body);  // key order: schemas keep theirs
  ordered_json chat = ordered_json::object();
  ordered_json messages = chat_messages(fields, request["input"]);
  if (!instructions.empty()) {
    messages.insert(messages.begin(), ordered_json{{"role", "system"}, {"content", instructions}});
  }
  chat["messages"] = std::move(messages);
  for (const char* name :
       {"model", "temperature", "top_p", "stream", "user", "seed", "parallel_tool_calls"}) {
    if (request.contains(name)) chat[name] = request[name];
  }
  if (max_output_tokens > 0) chat["max_tokens"] = max_output_tokens;
  if (fields.has("tools")) chat["tools"] = chat_tools(fields, request["tools"]);
  if (fields.has("tool_choice"))
    chat["tool_choice"] = chat_tool_choice(fields, request["tool_choice"]);
  if (fields.has("text")) {
    ordered_json format = chat_response_format(fields, request["text"]);
    if (!format.is_null()) chat["response_format"] = std::move(format);
  }
  if (fields.error) return fields.error;

  if (auto error = decode_chat_request(chat.dump(), limits, out.generation)) {
    rename_params(*error);
    return error;
  }
  out.generation.ignored_fields.clear();
  for (const auto& [name, value] : request.items()) {
    if (kKnownFields.count(name) || kHarmlessFields.count(name)) continue;
    if (out.generation.ignored_fields.size() == 16) break;
    out.generation.ignored_fields.push_back(name.substr(0, 64));
  }

  auto value_or = [&](const char* name, ordered_json fallback) {
    return request.contains(name) && !request[name].is_null() ? request[name] : fallback;
  };
  const SamplingParams& sampling = out.generation.requests.front().sampling;
  out.echoed = {{"instructions", value_or("instructions", nullptr)},
                {"max_output_tokens", value_or("max_output_tokens", nullptr)},
                {"temperature", sampling.temperature},
                {"top_p", sampling.top_p},
                {"tools", value_or("tools", ordered_json::array())},
                {"tool_choice", value_or("tool_choice", "auto")},
                {"parallel_tool_calls", value_or("parallel_tool_calls", true)},
                {"text", value_or("text", ordered_json{{"format", {{"type", "text"}}}})},
                {"metadata", value_or("metadata", ordered_json::object())},
                {"user", value_or("user", nullptr)}};
  return std::nullopt;
}

}  // namespace troupe::api
