#include "net/api/responses_format.hpp"

#include <chrono>

#include "net/api/completion_format.hpp"
#include "net/api/tool_calls.hpp"

namespace troupe::api {
namespace {

using nlohmann::ordered_json;

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string item_status(const std::string& finish) {
  return finish == "length" ? "incomplete" : "completed";
}

ordered_json text_part(const std::string& text) {
  return {{"type", "output_text"},
          {"text", text},
          {"annotations", ordered_json::array()},
          {"logprobs", ordered_json::array()}};
}

ordered_json message_item(const std::string& id, const std::string& status, ordered_json content) {
  return {{"type", "message"},
          {"id", id},
          {"status", status},
          {"role", "assistant"},
          {"content", std::move(content)}};
}

ordered_json usage_json(Usage usage) {
  return {{"input_tokens", usage.prompt_tokens},
          {"input_tokens_details", {{"cached_tokens", 0}, {"cache_write_tokens", 0}}},
          {"output_tokens", usage.completion_tokens},
          {"output_tokens_details", {{"reasoning_tokens", 0}}},
          {"total_tokens", usage.prompt_tokens + usage.completion_tokens}};
}

std::string message_id(const ResponsesShape& shape) {
  return "msg_" + shape.id.substr(shape.id.find_first_of("-_") + 1);
}

// The output items of a finished choice: its calls, or its text as one message.
ordered_json output_items(const ResponsesShape& shape, const ChoiceResult& choice) {
  const std::string status = item_status(choice.finish_reason);
  ordered_json items = ordered_json::array();
  if (!shape.tools) {
    items.push_back(
        message_item(message_id(shape), status, ordered_json::array({text_part(choice.text)})));
    return items;
  }
  ToolAnswer answer = parse_tool_answer(choice.text, shape.tool_syntax);
  if (answer.calls.empty()) {
    items.push_back(
        message_item(message_id(shape), status, ordered_json::array({text_part(answer.content)})));
    return items;
  }
  for (const ToolCall& call : answer.calls) {
    items.push_back({{"type", "function_call"},
                     {"id", "fc_" + call.id.substr(call.id.find('_') + 1)},
                     {"call_id", call.id},
                     {"name", call.name},
                     {"arguments", call.arguments},
                     {"status", "completed"}});
  }
  return items;
}

}  // namespace

ordered_json ResponsesFormat::response(const ChoiceResult* choice, Usage usage,
                                       const std::optional<ApiError>& error) const {
  std::string status = "in_progress";
  ordered_json incomplete = nullptr;
  if (error) {
    status = "failed";
  } else if (choice && choice->finish_reason == "length") {
    status = "incomplete";
    incomplete = {{"reason", "max_output_tokens"}};
  } else if (choice) {
    status = "completed";
  }
  ordered_json body = {{"id", shape_.id},
                       {"object", "response"},
                       {"created_at", shape_.created},
                       {"status", status},
                       {"completed_at", status == "completed" ? ordered_json(unix_now()) : nullptr},
                       {"error", nullptr},
                       {"incomplete_details", incomplete},
                       {"model", shape_.model}};
  if (error) body["error"] = {{"code", error->code}, {"message", error->message}};
  body["output"] = choice && !error ? output_items(shape_, *choice) : ordered_json::array();
  for (const auto& [name, value] : shape_.echoed.items()) body[name] = value;
  body["store"] = false;  // stateless: nothing to retrieve later
  body["background"] = false;
  body["previous_response_id"] = nullptr;
  body["truncation"] = "disabled";
  body["usage"] = choice || error ? usage_json(usage) : ordered_json(nullptr);
  return body;
}

std::string ResponsesFormat::event(const std::string& type, ordered_json fields) {
  ordered_json data = {{"type", type}, {"sequence_number", sequence_++}};
  for (auto& [name, value] : fields.items()) data[name] = std::move(value);
  return "event: " + type + "\n" + sse_event(dump_lossy(data));
}

SseEvents ResponsesFormat::opening(int /*choices*/) {
  SseEvents out;
  out.push_back(event("response.created", {{"response", response(nullptr, {})}}));
  out.push_back(event("response.in_progress", {{"response", response(nullptr, {})}}));
  if (!streams_deltas()) return out;
  // Text streams into one message, opened now.
  const ordered_json item = message_item(message_id(shape_), "in_progress", ordered_json::array());
  out.push_back(event("response.output_item.added", {{"output_index", 0}, {"item", item}}));
  out.push_back(event("response.content_part.added", {{"item_id", item["id"]},
                                                      {"output_index", 0},
                                                      {"content_index", 0},
                                                      {"part", text_part("")}}));
  items_ = 1;
  return out;
}

SseEvents ResponsesFormat::delta(int /*index*/, const GenerationChunk& chunk) {
  if (chunk.text.empty()) return {};
  return {event("response.output_text.delta", {{"item_id", message_id(shape_)},
                                               {"output_index", 0},
                                               {"content_index", 0},
                                               {"delta", chunk.text},
                                               {"logprobs", ordered_json::array()}})};
}

void ResponsesFormat::whole_item(int index, const ordered_json& item, SseEvents& out) {
  ordered_json opened = item;
  opened["status"] = "in_progress";
  if (item["type"] == "function_call") {
    opened["arguments"] = "";
    out.push_back(event("response.output_item.added", {{"output_index", index}, {"item", opened}}));
    const ordered_json where = {{"item_id", item["id"]}, {"output_index", index}};
    ordered_json delta = where, done = where;
    delta["delta"] = item["arguments"];
    done["arguments"] = item["arguments"];
    out.push_back(event("response.function_call_arguments.delta", std::move(delta)));
    out.push_back(event("response.function_call_arguments.done", std::move(done)));
  } else {
    opened["content"] = ordered_json::array();
    out.push_back(event("response.output_item.added", {{"output_index", index}, {"item", opened}}));
    const ordered_json& part = item["content"][0];
    ordered_json where = {{"item_id", item["id"]}, {"output_index", index}, {"content_index", 0}};
    ordered_json added = where, delta = where, text_done = where, part_done = where;
    added["part"] = text_part("");
    delta["delta"] = part["text"];
    delta["logprobs"] = ordered_json::array();
    text_done["text"] = part["text"];
    text_done["logprobs"] = ordered_json::array();
    part_done["part"] = part;
    out.push_back(event("response.content_part.added", std::move(added)));
    out.push_back(event("response.output_text.delta", std::move(delta)));
    out.push_back(event("response.output_text.done", std::move(text_done)));
    out.push_back(event("response.content_part.done", std::move(part_done)));
  }
  out.push_back(event("response.output_item.done", {{"output_index", index}, {"item", item}}));
}

SseEvents ResponsesFormat::whole_choice(int /*index*/, const ChoiceResult& choice) {
  SseEvents out;
  for (const ordered_json& item : output_items(shape_, choice)) whole_item(items_++, item, out);
  return out;
}

SseEvents ResponsesFormat::closing(const std::vector<ChoiceResult>& choices,
                                   const std::optional<ApiError>& error, Usage usage) {
  SseEvents out;
  if (error) {
    out.push_back(event("error", {{"code", error->code.empty() ? error->type : error->code},
                                  {"message", error->message},
                                  {"param", error->param.empty() ? ordered_json(nullptr)
                                                                 : ordered_json(error->param)}}));
    out.push_back(event("response.failed", {{"response", response(nullptr, usage, error)}}));
    return out;
  }
  const ChoiceResult& choice = choices.front();
  if (streams_deltas()) {  // close the message the text streamed into
    const ordered_json item = output_items(shape_, choice)[0];
    const ordered_json where = {{"item_id", item["id"]}, {"output_index", 0}, {"content_index", 0}};
    ordered_json text_done = where, part_done = where;
    text_done["text"] = choice.text;
    text_done["logprobs"] = ordered_json::array();
    part_done["part"] = item["content"][0];
    out.push_back(event("response.output_text.done", std::move(text_done)));
    out.push_back(event("response.content_part.done", std::move(part_done)));
    out.push_back(event("response.output_item.done", {{"output_index", 0}, {"item", item}}));
  }
  const ordered_json whole = response(&choice, usage);
  const std::string type =
      whole["status"] == "incomplete" ? "response.incomplete" : "response.completed";
  out.push_back(event(type, {{"response", whole}}));
  return out;
}

std::string ResponsesFormat::body(const std::vector<ChoiceResult>& choices, Usage usage) {
  return dump_lossy(response(&choices.front(), usage));
}

}  // namespace troupe::api
