// troupe generate: one prompt in, generated text out (streamed, or as one JSON object).
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/run_options.hpp"
#include "engine/serve/single_request.hpp"

namespace troupe::cli {

int generate_command(const Args& args) {
  CommandSpec spec{"generate", "troupe generate [flags] --prompt TEXT",
                   "Generates a continuation of TEXT, or with --chat the assistant's reply to it\n"
                   "under the model's chat template. Text streams to stdout as it is generated.",
                   run_flags()};
  spec.flags.insert(spec.flags.begin(),
                    {{"prompt", "TEXT", "the prompt (required)"},
                     {"chat", "", "apply the model's chat template, TEXT being the user's message"},
                     {"system", "TEXT", "with --chat: a system message before TEXT"},
                     {"json", "", "print one JSON object with the text, token ids and speeds"}});
  Flags parsed;
  if (auto done = parse_flags(spec, args, parsed)) return *done;
  const Flags* flags = &parsed;
  if (!flags->positional().empty()) {
    return input_error("unexpected argument '" + flags->positional()[0] + "' (use --prompt TEXT)");
  }
  const auto prompt_text = flags->get("prompt");
  if (!prompt_text) return input_error("--prompt TEXT is required (see troupe generate --help)");
  if (flags->has("system") && !flags->has("chat")) return input_error("--system needs --chat");

  auto runtime = load_runtime(*flags);
  if (!runtime) return input_error(runtime.message());
  Model& model = (*runtime)->model;

  std::vector<int32_t> prompt;
  if (flags->has("chat")) {
    std::vector<ChatTurn> turns;
    if (auto system = flags->get("system")) turns.push_back({"system", *system});
    turns.push_back({"user", *prompt_text});
    auto tokens = chat_prompt_tokens(model, turns);
    if (!tokens) return input_error(tokens.message());
    prompt = std::move(*tokens);
  } else {
    prompt = model.tokenizer.encode(*prompt_text, /*add_special=*/true, /*parse_special=*/true);
  }

  const bool json = flags->has("json");
  auto engine = single_request_engine(**runtime);
  if (!engine) return input_error(engine.message());
  auto result = run_single_request(**engine, model.tokenizer, std::move(prompt),
                                   (*runtime)->sampling, [&](std::string_view text) {
                                     if (json) return;
                                     std::fwrite(text.data(), 1, text.size(), stdout);
                                     std::fflush(stdout);
                                   });
  if (!result) return input_error(result.message());

  if (!json) {
    std::fputc('\n', stdout);
    return 0;
  }
  const auto completion = static_cast<int>(result->token_ids.size());
  nlohmann::json out = {
      {"text", result->text},
      {"token_ids", result->token_ids},
      {"finish_reason", result->finish_reason},
      {"prompt_tokens", result->prompt_tokens},
      {"completion_tokens", completion},
      {"prompt_tok_per_s",
       result->prompt_seconds > 0 ? result->prompt_tokens / result->prompt_seconds : 0.0},
      // The first token comes with the prompt; decode speed counts the ones after it.
      {"decode_tok_per_s", result->decode_seconds > 0 && completion > 1
                               ? (completion - 1) / result->decode_seconds
                               : 0.0},
  };
  std::printf("%s\n", out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  return 0;
}

}  // namespace troupe::cli
