#include "net/api/completion_format.hpp"

#include <nlohmann/json.hpp>

#include "net/api/tool_calls.hpp"

namespace troupe::api {
namespace {

using nlohmann::json;

json byte_array(const std::string& text) {
  json bytes = json::array();
  for (unsigned char c : text) bytes.push_back(static_cast<int>(c));
  return bytes;
}

json chat_logprobs(const ResponseShape& shape, const std::vector<SampledToken>& tokens) {
  json content = json::array();
  for (const auto& t : tokens) {
    const std::string text = shape.tokenizer->token_bytes(t.token);
    json top = json::array();
    for (int i = 0; i < shape.top_logprobs && i < static_cast<int>(t.top.size()); ++i) {
      const std::string alt = shape.tokenizer->token_bytes(t.top[i].token);
      top.push_back({{"token", alt}, {"logprob", t.top[i].logprob}, {"bytes", byte_array(alt)}});
    }
    content.push_back({{"token", text},
                       {"logprob", t.logprob},
                       {"bytes", byte_array(text)},
                       {"top_logprobs", top}});
  }
  return {{"content", content}};
}

json completion_logprobs(const ResponseShape& shape, const std::vector<SampledToken>& tokens,
                         size_t text_offset) {
  json texts = json::array(), logprobs = json::array(), tops = json::array(),
       offsets = json::array();
  for (const auto& t : tokens) {
    const std::string text = shape.tokenizer->token_bytes(t.token);
    texts.push_back(text);
    logprobs.push_back(t.logprob);
    json top = json::object();
    for (int i = 0; i < shape.top_logprobs && i < static_cast<int>(t.top.size()); ++i) {
      top[shape.tokenizer->token_bytes(t.top[i].token)] = t.top[i].logprob;
    }
    top[text] = t.logprob;  // OpenAI always includes the sampled token: up to logprobs + 1
    tops.push_back(top);
    offsets.push_back(text_offset);
    text_offset += text.size();
  }
  return {{"tokens", texts},
          {"token_logprobs", logprobs},
          {"top_logprobs", tops},
          {"text_offset", offsets}};
}

json logprobs_of(const ResponseShape& shape, const std::vector<SampledToken>& tokens) {
  if (!shape.logprobs) return nullptr;
  return shape.chat ? chat_logprobs(shape, tokens) : completion_logprobs(shape, tokens, 0);
}

json usage_json(Usage usage) {
  return {{"prompt_tokens", usage.prompt_tokens},
          {"completion_tokens", usage.completion_tokens},
          {"total_tokens", usage.prompt_tokens + usage.completion_tokens}};
}

json envelope(const ResponseShape& shape, bool chunk) {
  json body = {{"id", shape.id},
               {"object", shape.chat ? (chunk ? "chat.completion.chunk" : "chat.completion")
                                     : "text_completion"},
               {"created", shape.created},
               {"model", shape.model},
               {"system_fingerprint", "troupe"}};
  if (chunk && shape.include_usage) body["usage"] = nullptr;
  return body;
}

json finish_json(const std::string& reason) {
  return reason.empty() ? json(nullptr) : json(reason);
}

// OpenAI's tool_calls list; in a streamed delta each call also carries its index.
json tool_calls_json(const std::vector<ToolCall>& calls, bool indexed) {
  json list = json::array();
  for (size_t i = 0; i < calls.size(); ++i) {
    json call = {{"id", calls[i].id},
                 {"type", "function"},
                 {"function", {{"name", calls[i].name}, {"arguments", calls[i].arguments}}}};
    if (indexed) call["index"] = i;
    list.push_back(std::move(call));
  }
  return list;
}

std::string full_response(const ResponseShape& shape, const std::vector<ChoiceResult>& choices,
                          Usage usage) {
  json body = envelope(shape, false);
  json list = json::array();
  for (size_t i = 0; i < choices.size(); ++i) {
    const auto& c = choices[i];
    json choice = {{"index", i},
                   {"logprobs", logprobs_of(shape, c.tokens)},
                   {"finish_reason", finish_json(c.finish_reason)}};
    if (shape.chat && shape.tools) {
      const ToolAnswer answer = parse_tool_answer(c.text, shape.tool_syntax);
      choice["message"] = {{"role", "assistant"}, {"content", answer.content}};
      if (!answer.calls.empty()) {
        choice["message"]["content"] = nullptr;
        choice["message"]["tool_calls"] = tool_calls_json(answer.calls, false);
        if (c.finish_reason == "stop") choice["finish_reason"] = "tool_calls";
      }
    } else if (shape.chat) {
      choice["message"] = {{"role", "assistant"}, {"content", c.text}};
    } else {
      choice["text"] = c.text;
    }
    list.push_back(std::move(choice));
  }
  body["choices"] = std::move(list);
  body["usage"] = usage_json(usage);
  return dump_lossy(body);
}

std::string role_chunk(const ResponseShape& shape, int index) {
  json body = envelope(shape, true);
  body["choices"] = json::array({{{"index", index},
                                  {"delta", {{"role", "assistant"}, {"content", ""}}},
                                  {"logprobs", nullptr},
                                  {"finish_reason", nullptr}}});
  return dump_lossy(body);
}

std::string delta_chunk(const ResponseShape& shape, int index, const GenerationChunk& chunk) {
  json body = envelope(shape, true);
  json choice = {{"index", index},
                 {"logprobs", logprobs_of(shape, chunk.tokens)},
                 {"finish_reason", finish_json(chunk.finish_reason)}};
  if (shape.chat) {
    choice["delta"] = chunk.text.empty() ? json::object() : json{{"content", chunk.text}};
  } else {
    choice["text"] = chunk.text;
  }
  body["choices"] = json::array({std::move(choice)});
  return dump_lossy(body);
}

std::vector<std::string> tool_answer_chunks(const ResponseShape& shape, int index,
                                            const std::string& text,
                                            const std::string& finish_reason) {
  const ToolAnswer answer = parse_tool_answer(text, shape.tool_syntax);
  std::vector<std::string> out;
  auto chunk = [&](json delta, const std::string& finish) {
    json body = envelope(shape, true);
    body["choices"] = json::array({{{"index", index},
                                    {"delta", std::move(delta)},
                                    {"logprobs", nullptr},
                                    {"finish_reason", finish_json(finish)}}});
    out.push_back(dump_lossy(body));
  };
  if (answer.calls.empty()) {
    chunk({{"content", answer.content}}, finish_reason);
    return out;
  }
  const json calls = tool_calls_json(answer.calls, true);
  for (const json& call : calls) chunk({{"tool_calls", json::array({call})}}, "");
  chunk(json::object(), finish_reason == "stop" ? "tool_calls" : finish_reason);
  return out;
}

std::string usage_chunk(const ResponseShape& shape, Usage usage) {
  json body = envelope(shape, true);
  body["choices"] = json::array();
  body["usage"] = usage_json(usage);
  return dump_lossy(body);
}

}  // namespace

std::string sse_event(std::string_view data) {
  std::string out = "data: ";
  out.append(data);
  out += "\n\n";
  return out;
}

std::string dump_lossy(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string dump_lossy(const nlohmann::ordered_json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

SseEvents CompletionFormat::opening(int choices) {
  SseEvents out;
  if (!shape_.chat) return out;
  for (int i = 0; i < choices; ++i) out.push_back(sse_event(role_chunk(shape_, i)));
  return out;
}

SseEvents CompletionFormat::delta(int index, const GenerationChunk& chunk) {
  const bool worth_sending = !chunk.text.empty() || !chunk.finish_reason.empty() ||
                             (shape_.logprobs && !chunk.tokens.empty());
  if (!worth_sending) return {};
  return {sse_event(delta_chunk(shape_, index, chunk))};
}

SseEvents CompletionFormat::whole_choice(int index, const ChoiceResult& choice) {
  SseEvents out;
  for (const std::string& data :
       tool_answer_chunks(shape_, index, choice.text, choice.finish_reason)) {
    out.push_back(sse_event(data));
  }
  return out;
}

SseEvents CompletionFormat::closing(const std::vector<ChoiceResult>&,
                                    const std::optional<ApiError>& error, Usage usage) {
  SseEvents out;
  if (error) out.push_back(sse_event(error_json(*error)));
  if (shape_.include_usage) out.push_back(sse_event(usage_chunk(shape_, usage)));
  out.emplace_back(kSseDone);
  return out;
}

std::string CompletionFormat::body(const std::vector<ChoiceResult>& choices, Usage usage) {
  return full_response(shape_, choices, usage);
}

}  // namespace troupe::api
