#include "engine/chat/chat_template.hpp"

#include "engine/chat/interpreter.hpp"
#include "engine/chat/parser.hpp"

namespace troupe::chat {

Result<ChatTemplate> ChatTemplate::parse(std::string_view source) {
  auto program = parse_template(source);
  if (!program.ok()) return program.error();
  return ChatTemplate(std::move(program.value()));
}

Value make_chat_context(const std::vector<ChatMessage>& messages,
                        const ChatTemplateOptions& options) {
  std::vector<Value> list;
  list.reserve(messages.size());
  for (const ChatMessage& m : messages) {
    ObjectEntries entries = {{"role", Value(m.role)}, {"content", Value(m.content)}};
    if (!m.tool_calls.is_undefined()) entries.emplace_back("tool_calls", m.tool_calls);
    if (!m.tool_call_id.empty()) entries.emplace_back("tool_call_id", Value(m.tool_call_id));
    list.push_back(Value::object(std::move(entries)));
  }
  return Value::object({
      {"messages", Value::array(std::move(list))},
      {"tools", options.tools},
      {"documents", Value::none()},
      {"add_generation_prompt", Value(options.add_generation_prompt)},
      {"bos_token", Value(options.bos_token)},
      {"eos_token", Value(options.eos_token)},
  });
}

Result<std::string> ChatTemplate::apply(const std::vector<ChatMessage>& messages,
                                        const ChatTemplateOptions& options) const {
  return render(make_chat_context(messages, options));
}

Result<std::string> ChatTemplate::render(const Value& context) const {
  Interpreter interpreter(limits_);
  return interpreter.render(*program_, context);
}

}  // namespace troupe::chat
