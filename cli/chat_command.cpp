// troupe chat: an interactive conversation in the terminal.
#include <unistd.h>
#include <cstdio>
#include <iostream>
#include <string>

#include "cli/commands.hpp"
#include "cli/run_options.hpp"
#include "engine/serve/single_request.hpp"

namespace troupe::cli {

int chat_command(const Args& args) {
  CommandSpec spec{"chat", "troupe chat [flags]",
                   "Chats with the model in the terminal: type a message and press Enter.\n"
                   "/reset starts a new conversation; /exit or end of input (Ctrl-D) quits.",
                   run_flags()};
  spec.flags.insert(spec.flags.begin(),
                    {"system", "TEXT", "a system message for the conversation"});
  Flags parsed;
  if (auto done = parse_flags(spec, args, parsed)) return *done;
  const Flags* flags = &parsed;
  if (!flags->positional().empty()) {
    return input_error("unexpected argument '" + flags->positional()[0] + "'");
  }
  auto runtime = load_runtime(*flags);
  if (!runtime) return input_error(runtime.message());
  Model& model = (*runtime)->model;
  if (model.chat_template.empty()) return input_error("the model has no chat template");

  const bool interactive = isatty(STDIN_FILENO);
  std::vector<ChatTurn> conversation;
  auto reset = [&] {
    conversation.clear();
    if (auto system = flags->get("system")) conversation.push_back({"system", *system});
  };
  reset();
  auto engine = single_request_engine(**runtime);
  if (!engine) return input_error(engine.message());
  if (interactive) std::printf("troupe chat with %s — /reset, /exit\n", model.config.name.c_str());
  std::string line;
  for (;;) {
    if (interactive) std::printf("> ");
    std::fflush(stdout);
    if (!std::getline(std::cin, line) || line == "/exit") break;
    if (line == "/reset") {
      reset();
      continue;
    }
    if (line.empty()) continue;
    conversation.push_back({"user", line});
    auto prompt = chat_prompt_tokens(model, conversation);
    if (!prompt) return input_error(prompt.message());
    auto reply = run_single_request(**engine, model.tokenizer, std::move(*prompt),
                                    (*runtime)->sampling, [](std::string_view text) {
                                      std::fwrite(text.data(), 1, text.size(), stdout);
                                      std::fflush(stdout);
                                    });
    std::printf("\n");
    if (!reply) {
      // The conversation outgrew the context, say: report it and let the user /reset.
      std::fprintf(stderr, "troupe: %s (/reset starts over)\n", reply.message().c_str());
      conversation.pop_back();
      continue;
    }
    conversation.push_back({"assistant", reply->text});
  }
  return 0;
}

}  // namespace troupe::cli
