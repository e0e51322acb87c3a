#include "net/api/openai_request.hpp"

#include <set>

#include "engine/grammar/compiled_grammar.hpp"
#include "engine/grammar/grammar_words.hpp"
#include "net/api/json_fields.hpp"
#include "net/api/structured_output.hpp"
#include "net/api/tool_calls.hpp"

namespace troupe::api {
namespace {

using nlohmann::json;

bool in_vocabulary(long long token, const ApiLimits& limits) {
  return token >= 0 && token <= std::numeric_limits<int32_t>::max() &&
         (limits.vocab_size == 0 || token < limits.vocab_size);
}

std::string vocabulary_range(const ApiLimits& limits) {
  return limits.vocab_size ? " in [0, " + std::to_string(limits.vocab_size) + ")" : "";
}

// `stop`: a string or an array of strings (stop_list_problem: how many, how long).
void read_stop(JsonFields& fields, std::vector<std::string>& out) {
  if (!fields.has("stop")) return;
  const json& stop = fields.json()["stop"];
  if (stop.is_string()) {
    out = {stop.get<std::string>()};
  } else if (stop.is_array()) {
    for (const auto& s : stop) {
      if (!s.is_string()) return fields.fail("stop", "'stop' must contain only strings");
      out.push_back(s.get<std::string>());
    }
  } else {
    return fields.fail("stop", "'stop' must be a string or an array of strings");
  }
  if (auto problem = stop_list_problem(out)) fields.fail("stop", *problem);
}

// `logit_bias`: {"token id": bias in [-100, 100]}.
void read_logit_bias(JsonFields& fields, const ApiLimits& limits, SamplingParams& sampling) {
  if (!fields.has("logit_bias")) return;
  const json& bias = fields.json()["logit_bias"];
  if (!bias.is_object()) return fields.fail("logit_bias", "'logit_bias' must be an object");
  for (const auto& [key, value] : bias.items()) {
    size_t used = 0;
    long long token = -1;
    try {
      token = std::stoll(key, &used);
    } catch (const std::exception&) {
    }
    if (used != key.size() || !in_vocabulary(token, limits)) {
      return fields.fail("logit_bias", "'logit_bias' keys must be token ids" +
                                           vocabulary_range(limits) + ", got '" + key + "'");
    }
    if (!value.is_number() || value.get<double>() < -100 || value.get<double>() > 100) {
      return fields.fail("logit_bias", "'logit_bias' values must be numbers in [-100, 100]");
    }
    sampling.logit_bias.emplace_back(static_cast<int32_t>(token), value.get<float>());
  }
}

void read_token_ids(JsonFields& fields, const ApiLimits& limits, const char* name,
                    std::vector<int32_t>& out) {
  if (!fields.has(name)) return;
  const json& ids = fields.json()[name];
  if (!ids.is_array()) return fields.fail(name, std::string("'") + name + "' must be an array");
  for (const auto& id : ids) {
    if (!id.is_number_integer() || !in_vocabulary(id.get<long long>(), limits)) {
      return fields.fail(
          name, std::string("'") + name + "' must contain token ids" + vocabulary_range(limits));
    }
    out.push_back(id.get<int32_t>());
  }
}

// The fields each endpoint reads. Any other is ignored and named in the log, as vLLM does.
const std::set<std::string> kCommonFields = {"model",
                                             "user",
                                             "stream",
                                             "stream_options",
                                             "max_tokens",
                                             "max_completion_tokens",
                                             "temperature",
                                             "top_p",
                                             "n",
                                             "presence_penalty",
                                             "frequency_penalty",
                                             "top_k",
                                             "min_p",
                                             "repetition_penalty",
                                             "ignore_eos",
                                             "seed",
                                             "stop",
                                             "stop_token_ids",
                                             "logit_bias",
                                             "logprobs"};
const std::set<std::string> kChatFields = {"messages", "top_logprobs", "tools", "tool_choice",
                                           "parallel_tool_calls"};
const std::set<std::string> kCompletionFields = {"prompt", "echo", "suffix", "best_of"};

// OpenAI's deprecated function-calling fields: refused rather than silently ignored, so a client
// relying on them learns at once to send `tools`.
void refuse_legacy_functions(JsonFields& fields) {
  auto refuse = [&](const char* name, const char* what) {
    if (fields.error) return;
    fields.fail(name, std::string("'") + name + "' is not supported by this server (" + what + ")");
    fields.error->code = "unsupported_parameter";
  };
  auto non_empty = [&](const char* name) {
    if (!fields.has(name)) return false;
    const json& value = fields.json()[name];
    return !(value.is_array() && value.empty());  // an empty list asks for nothing
  };
  if (non_empty("functions")) refuse("functions", "function calling");
  if (fields.has("function_call")) refuse("function_call", "function calling");
}

// The body's fields that no reader above takes, in the body's order (at most 16, each cut to
// 64 bytes: they go into a log line).
std::vector<std::string> unknown_fields(const JsonFields& fields,
                                        const std::set<std::string>& own) {
  static const std::set<std::string> kRefused = {"functions", "function_call"};
  std::vector<std::string> out;
  if (fields.error || !fields.json().is_object()) return out;
  for (const auto& [name, value] : fields.json().items()) {
    if (kCommonFields.count(name) || own.count(name) || kRefused.count(name) ||
        is_structured_output_field(name)) {
      continue;
    }
    if (out.size() == 16) break;
    out.push_back(name.substr(0, 64));
  }
  return out;
}

// The parameters both endpoints share, OpenAI's and vLLM's extras.
void read_common(JsonFields& fields, const ApiLimits& limits, ApiGeneration& out,
                 SamplingParams& sampling) {
  fields.read_string("model", out.model);
  fields.read_string("user", out.user);
  fields.read_bool("stream", out.stream);
  if (fields.has("stream_options")) {
    const json& options = fields.json()["stream_options"];
    if (!out.stream) {
      return fields.fail("stream_options",
                         "'stream_options' is only allowed when 'stream' is true");
    }
    if (!options.is_object()) {
      return fields.fail("stream_options", "'stream_options' must be an object");
    }
    if (options.contains("include_usage") && !options["include_usage"].is_null()) {
      if (!options["include_usage"].is_boolean()) {
        return fields.fail("stream_options", "'stream_options.include_usage' must be a boolean");
      }
      out.include_usage = options["include_usage"].get<bool>();
    }
  }
  // Absent: up to the end of the context, which the whole context length stands for. Given: it
  // must leave room for a prompt, and the request actor checks the prompt fits beside it.
  sampling.max_tokens = limits.max_model_len;
  fields.read_int("max_tokens", sampling.max_tokens, 1, limits.max_model_len - 1);
  fields.read_int("max_completion_tokens", sampling.max_tokens, 1, limits.max_model_len - 1);
  fields.read_number("temperature", sampling.temperature, 0, 2);
  fields.read_number("top_p", sampling.top_p, 0, 1, /*min_exclusive=*/true);
  fields.read_int("n", sampling.n, 1, limits.max_n);
  fields.read_number("presence_penalty", sampling.presence_penalty, -2, 2);
  fields.read_number("frequency_penalty", sampling.frequency_penalty, -2, 2);
  fields.read_int("top_k", sampling.top_k, -1, std::numeric_limits<int32_t>::max());
  fields.read_number("min_p", sampling.min_p, 0, 1);
  fields.read_number("repetition_penalty", sampling.repetition_penalty, 0, 100, true);
  fields.read_bool("ignore_eos", sampling.ignore_eos);
  if (fields.has("seed")) {
    const json& seed = fields.json()["seed"];
    if (!seed.is_number_integer()) return fields.fail("seed", "'seed' must be an integer");
    sampling.seed = seed.is_number_unsigned() ? seed.get<uint64_t>()
                                              : static_cast<uint64_t>(seed.get<int64_t>());
  }
  read_stop(fields, sampling.stop);
  read_token_ids(fields, limits, "stop_token_ids", sampling.stop_token_ids);
  if (sampling.stop_token_ids.size() > kMostStopTokenIds) {
    fields.fail("stop_token_ids",
                "'stop_token_ids' holds at most " + std::to_string(kMostStopTokenIds) + " ids");
  }
  read_logit_bias(fields, limits, sampling);
}

// A chat message's content: a string, or an array of {"type": "text", "text": ...} parts.
// Only an assistant's turn may go without content (OpenAI: it may hold tool calls instead).
std::optional<std::string> message_content(JsonFields& fields, const json& content, size_t i,
                                           const std::string& role) {
  const std::string param = "messages[" + std::to_string(i) + "].content";
  if (content.is_null()) {
    if (role == "assistant") return std::string();
    fields.fail(param, "'" + param + "' is required for a " + role + " message");
    return std::nullopt;
  }
  if (content.is_string()) return content.get<std::string>();
  if (!content.is_array()) {
    fields.fail(param, "'" + param + "' must be a string or an array of content parts");
    return std::nullopt;
  }
  std::string text;
  for (const auto& part : content) {
    if (!part.is_object() || !part.contains("type") || !part["type"].is_string()) {
      fields.fail(param, "each part of '" + param + "' must be an object with a 'type'");
      return std::nullopt;
    }
    if (part["type"] != "text") {
      fields.fail(param, "content parts of type '" + part["type"].get<std::string>() +
                             "' are not supported by this text-only model");
      return std::nullopt;
    }
    if (!part.contains("text") || !part["text"].is_string()) {
      fields.fail(param, "a text part of '" + param + "' needs a string 'text'");
      return std::nullopt;
    }
    if (!text.empty()) text += "\n";
    text += part["text"].get<std::string>();
  }
  return text;
}

// `native`: the chat template renders tool calls and results itself (tool_syntax.hpp); else
// they are written in the generic form the model is asked to use (tool_calls.hpp).
void read_messages(JsonFields& fields, bool native, std::vector<ChatTurn>& out) {
  if (!fields.has("messages")) return fields.fail("messages", "'messages' is required");
  const json& messages = fields.json()["messages"];
  if (!messages.is_array()) return fields.fail("messages", "'messages' must be an array");
  if (messages.empty()) return fields.fail("messages", "'messages' must not be empty");
  static const std::set<std::string> kRoles = {"system", "developer", "user", "assistant", "tool"};
  for (size_t i = 0; i < messages.size(); ++i) {
    const json& message = messages[i];
    const std::string param = "messages[" + std::to_string(i) + "]";
    if (!message.is_object()) return fields.fail(param, "'" + param + "' must be an object");
    if (!message.contains("role") || !message["role"].is_string()) {
      return fields.fail(param + ".role", "'" + param + ".role' must be a string");
    }
    std::string role = message["role"].get<std::string>();
    if (!kRoles.count(role)) {
      return fields.fail(
          param + ".role",
          "unknown role '" + role + "' (expected system, developer, user, assistant or tool)");
    }
    // Earlier tool calls and their results, in the generic form the model is asked to write
    // (tool_calls.hpp): the calls as the assistant's JSON, a result as a user turn naming it.
    const bool calls = role == "assistant" && message.contains("tool_calls") &&
                       message["tool_calls"].is_array() && !message["tool_calls"].empty();
    if (calls && !native) {
      out.push_back({role, tool_calls_text(message["tool_calls"]), "", ""});
      continue;
    }
    static const json kNull;
    const auto content_field = message.find("content");
    auto content =
        message_content(fields, content_field == message.end() ? kNull : *content_field, i, role);
    if (role == "developer") role = "system";  // OpenAI's newer name for the system role
    if (!content) return;
    if (role == "tool") {
      const std::string id = message.contains("tool_call_id") && message["tool_call_id"].is_string()
                                 ? message["tool_call_id"].get<std::string>()
                                 : "";
      if (native) {
        out.push_back({"tool", std::move(*content), "", id});
      } else {
        out.push_back(
            {"user",
             "Result of the tool call" + (id.empty() ? "" : " " + id) + ": " + std::move(*content),
             "", ""});
      }
      continue;
    }
    out.push_back({role, std::move(*content), calls ? message["tool_calls"].dump() : "", ""});
  }
}

// Function calling in the generic form: the tools described in the system prompt, the answer
// constrained to their calls (or words, for tool_choice auto).
void use_tools(JsonFields& fields, const ToolRequest& tools, GenerateRequest& request) {
  if (!request.sampling.grammar.empty()) {
    return fields.fail("tools",
                       "'tools' and a structured output format both constrain the "
                       "answer: give one of them");
  }
  auto g = tool_grammar(tools);
  if (!g) return fields.fail("tools", g.message());
  if (*g) {
    if (auto c = grammar::CompiledGrammar::compile(**g); !c) {
      return fields.fail("tools", c.message());
    }
    request.sampling.grammar = grammar::to_words(**g);
  }
  if (tools.syntax != ToolSyntax::generic) {  // the template renders them its own way
    request.tools = tools.listed.dump();
    return;
  }
  const std::string instructions = tool_instructions(tools);
  auto& messages = request.messages;
  if (!messages.empty() && messages.front().role == "system") {
    messages.front().content += "\n\n" + instructions;
  } else {
    messages.insert(messages.begin(), ChatTurn{"system", instructions, "", ""});
  }
}

// `prompt`: a string, an array of strings, an array of token ids, or an array of those.
void read_prompts(JsonFields& fields, const ApiLimits& limits, ApiGeneration& out,
                  const SamplingParams& sampling) {
  if (!fields.has("prompt")) return fields.fail("prompt", "'prompt' is required");
  const json& prompt = fields.json()["prompt"];
  auto add = [&](const json& one) -> bool {
    GenerateRequest request;
    request.sampling = sampling;
    if (one.is_string()) {
      request.prompt = one.get<std::string>();
      if (request.prompt.empty()) {
        fields.fail("prompt", "'prompt' must not be empty");
        return false;
      }
    } else {
      for (const auto& id : one) {
        if (!id.is_number_integer() || !in_vocabulary(id.get<long long>(), limits)) {
          fields.fail("prompt",
                      "a token-id prompt must contain only token ids" + vocabulary_range(limits));
          return false;
        }
        request.prompt_tokens.push_back(id.get<int32_t>());
      }
      if (request.prompt_tokens.empty()) {
        fields.fail("prompt", "'prompt' must not be empty");
        return false;
      }
    }
    out.requests.push_back(std::move(request));
    return true;
  };
  if (prompt.is_string()) {
    add(prompt);
    return;
  }
  if (!prompt.is_array() || prompt.empty()) {
    return fields.fail("prompt", "'prompt' must be a string, an array of strings or token ids");
  }
  if (prompt[0].is_number()) {
    add(prompt);
    return;
  }
  if (static_cast<int>(prompt.size()) > limits.max_prompts) {
    return fields.fail("prompt",
                       "at most " + std::to_string(limits.max_prompts) + " prompts per request");
  }
  for (const auto& one : prompt) {
    if (!one.is_string() && !one.is_array()) {
      return fields.fail("prompt", "'prompt' must be a string, an array of strings or token ids");
    }
    if (!add(one)) return;
  }
}

}  // namespace

std::optional<ApiError> decode_chat_request(std::string_view body, const ApiLimits& limits,
                                            ApiGeneration& out) {
  JsonFields fields(body);
  out = ApiGeneration{};
  out.chat = true;
  GenerateRequest request;
  read_common(fields, limits, out, request.sampling);
  read_messages(fields, limits.tool_syntax != ToolSyntax::generic, request.messages);
  fields.read_bool("logprobs", out.logprobs);
  fields.read_int("top_logprobs", out.top_logprobs, 0, 20);
  if (!fields.error && out.top_logprobs > 0 && !out.logprobs) {
    fields.fail("top_logprobs", "'top_logprobs' requires 'logprobs' to be true");
  }
  refuse_legacy_functions(fields);
  read_structured_output(fields, body, request.sampling);
  read_tools(fields, body, out.tools);
  out.tools.syntax = limits.tool_syntax;
  if (!fields.error && out.tools.active()) use_tools(fields, out.tools, request);
  if (fields.error) return fields.error;
  out.ignored_fields = unknown_fields(fields, kChatFields);
  if (out.logprobs) request.sampling.logprobs = std::max(1, out.top_logprobs);
  out.requests.push_back(std::move(request));
  return std::nullopt;
}

std::optional<ApiError> decode_completion_request(std::string_view body, const ApiLimits& limits,
                                                  ApiGeneration& out) {
  JsonFields fields(body);
  out = ApiGeneration{};
  out.chat = false;
  SamplingParams sampling;
  read_common(fields, limits, out, sampling);
  int logprobs = -1;
  fields.read_int("logprobs", logprobs, 0, 20);
  bool echo = false;
  fields.read_bool("echo", echo);
  if (echo) fields.fail("echo", "'echo' is not supported");
  if (fields.has("suffix")) fields.fail("suffix", "'suffix' is not supported");
  int best_of = 1;
  fields.read_int("best_of", best_of, 1, 1);
  read_structured_output(fields, body, sampling);
  if (fields.error) return fields.error;
  out.ignored_fields = unknown_fields(fields, kCompletionFields);
  if (logprobs >= 0) {
    out.logprobs = true;
    out.top_logprobs = logprobs;
    sampling.logprobs = std::max(1, logprobs);
  }
  read_prompts(fields, limits, out, sampling);
  return fields.error;
}

}  // namespace troupe::api
