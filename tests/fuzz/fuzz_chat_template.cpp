// libFuzzer entry point for chat templates: the input is parsed as a template and rendered
// against a small conversation (with tools), checking that every outcome is a value: text
// within the limits or an error message, never a crash, hang or sanitizer report. The same bytes
// are read as JSON (parse_json_value: a request's tools and tool calls reach templates so).
//
//   make fuzz FUZZ_SECONDS=300    (builds tests/fuzz/* with clang and runs each, with the
//                                  .dict beside it; add tests/fixtures/chat/templates as seeds)
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "engine/chat/chat_template.hpp"
#include "engine/chat/json_value.hpp"

using namespace troupe::chat;

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_chat_template: %s\n", what);
  std::abort();
}

Value conversation() {
  const Value tool = Value::object({
      {"type", Value("function")},
      {"function", Value::object({
                       {"name", Value("get_weather")},
                       {"description", Value("Weather in a city")},
                       {"parameters", Value::object({
                                          {"type", Value("object")},
                                          {"properties", Value::object({
                                                             {"city", Value::object({
                                                                          {"type", Value("string")},
                                                                      })},
                                                         })},
                                      })},
                   })},
  });
  std::vector<ChatMessage> messages = {
      {"system", "Be brief."},
      {"user", "Hi {{ there }} \xC3\xA9\n"},
      {"assistant", "  Hello!  "},
      {"user", "Weather?"},
  };
  ChatTemplateOptions options;
  options.bos_token = "<s>";
  options.eos_token = "</s>";
  Value context = make_chat_context(messages, options);
  ObjectEntries entries = context.entries();
  entries.emplace_back("tools", Value::array({tool}));
  entries.emplace_back("numbers", Value::array({Value(1), Value(2.5), Value(-3), Value(true)}));
  return Value::object(std::move(entries));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Value context = conversation();
  RenderLimits limits;
  limits.max_output_bytes = 1 << 20;
  limits.max_string_bytes = 1 << 20;
  limits.max_list_items = 1 << 16;
  limits.max_loop_iterations = 100'000;
  limits.max_work = 2'000'000;  // keeps each input well under libFuzzer's timeout

  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  if (auto json = parse_json_value(bytes); !json.ok() && json.message().empty()) {
    fail("JSON error without a message");
  }
  auto tpl = ChatTemplate::parse(bytes);
  if (!tpl.ok()) {
    if (tpl.message().empty()) fail("syntax error without a message");
    return 0;
  }
  tpl->set_limits(limits);
  auto out = tpl->render(context);
  if (out.ok()) {
    if (out.value().size() > limits.max_output_bytes) fail("output above the limit");
  } else if (out.message().rfind("chat template error at line ", 0) != 0 &&
             out.message().rfind("chat template", 0) != 0) {
    fail("runtime error without a position");
  }
  return 0;
}
