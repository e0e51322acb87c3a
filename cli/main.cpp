// troupe: the command-line entry point.
#include <cstdio>
#include <cstring>
#include <string>

#include "cli/commands.hpp"
#include "cli/settings.hpp"

namespace {

constexpr const char* kUsage =
    "usage: troupe <command> [flags]\n"
    "\n"
    "troupe serves LLMs: it loads a GGUF model and generates text from it.\n"
    "\n"
    "commands:\n"
    "  serve      serve the model over HTTP (OpenAI- and TGI-compatible)\n"
    "  worker     a replica node joining a cluster's front: 'troupe worker --join HOST:PORT'\n"
    "  status     the cluster behind a front: nodes, health, load, KV use\n"
    "  drain      drain one node of a cluster: 'troupe drain --node NAME'\n"
    "  undrain    route to a drained node again: 'troupe undrain --node NAME'\n"
    "  deploy     'troupe deploy nginx': an nginx configuration for several servers\n"
    "  generate   generate text from a prompt (--chat applies the model's chat template)\n"
    "  chat       interactive chat in the terminal\n"
    "  tokenize   print the token ids of a text as a JSON array\n"
    "  model      manage the model cache: 'troupe model pull', 'troupe model path'\n"
    "  bench      'troupe bench offline|latency|serve': the engine's throughput, one sequence's\n"
    "             speed (like llama-bench), a server's latency (like vLLM's benchmarks)\n"
    "  usage      the HTTP gateway's usage ledger: requests and tokens per API key\n"
    "  plan       how a model fits in memory: KV tokens, sequences at once, pod memory\n"
    "\n"
    "'troupe <command> --help' describes every flag. Without --model, commands use the\n"
    "default model, SmolLM2-135M-Instruct (Q4_1), fetched by 'troupe model pull'.\n";

}  // namespace

namespace troupe::cli {

int input_error(const std::string& message) {
  std::fprintf(stderr, "troupe: %s\n", message.c_str());
  return 2;
}

std::optional<int> parse_flags(const CommandSpec& spec, const Args& args, Flags& flags) {
  auto parsed = Flags::parse(spec, args);
  if (!parsed) return input_error(parsed.message());
  if (parsed->has("help")) {
    std::fputs(usage(spec).c_str(), stdout);
    return 0;
  }
  flags = std::move(*parsed);
  return std::nullopt;
}

std::optional<int> parse_settings(const CommandSpec& spec, const Args& args, Flags& flags) {
  if (auto done = parse_flags(spec, args, flags)) return done;
  auto merged = merge_settings(spec, std::move(flags));
  if (!merged) return input_error(merged.message());
  flags = std::move(*merged);
  if (flags.has("print-config")) {
    std::fputs(settings_yaml(spec, flags).c_str(), stdout);
    return 0;
  }
  return std::nullopt;
}

int input_error(const Flags& flags, const std::string& message) {
  return input_error(flags.attribute(message));
}

}  // namespace troupe::cli

int main(int argc, char** argv) {
  using namespace troupe::cli;
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") ||
      !std::strcmp(argv[1], "help")) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const std::string command = argv[1];
  const Args args(argv + 2, argv + argc);
  if (command == "generate") return generate_command(args);
  if (command == "chat") return chat_command(args);
  if (command == "tokenize") return tokenize_command(args);
  if (command == "model") return model_command(args);
  if (command == "bench") return bench_command(args);
  if (command == "worker") return worker_command(args);
  if (command == "status") return status_command(args);
  if (command == "drain") return drain_command(args);
  if (command == "undrain") return undrain_command(args);
  if (command == "deploy") return deploy_command(args);
  if (command == "serve") return serve_command(args);
  if (command == "usage") return usage_command(args);
  if (command == "plan") return plan_command(args);
  if (command == "tensor-parallel-rank") return tensor_parallel_rank_command(args);
  return input_error("unknown command '" + command + "' (see troupe --help)");
}
