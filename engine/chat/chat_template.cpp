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
  for (const ChatMessage& m : messages)
    list.push_back(Value::object({{"role", Value(m.role)}, {"content", Value(m.content)}}));
  return Value::object({
      {"messages", Value::array(std::move(list))},
      {"tools", Value::none()},
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
