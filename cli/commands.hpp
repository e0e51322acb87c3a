#pragma once
// The `troupe` subcommands. Each returns the process exit code: 0 on success, 2 for bad input
// (after printing one line naming the problem), 1 for other failures.
#include <optional>
#include <string>
#include <vector>

#include "cli/flags.hpp"

namespace troupe::cli {

using Args = std::vector<std::string>;

int generate_command(const Args& args);
int chat_command(const Args& args);
int tokenize_command(const Args& args);
int model_command(const Args& args);
int bench_command(const Args& args);
int worker_command(const Args& args);         // troupe worker --join HOST:PORT
int status_command(const Args& args);         // troupe status
int drain_command(const Args& args);          // troupe drain --node NAME
int undrain_command(const Args& args);        // troupe undrain --node NAME
int deploy_command(const Args& args);         // troupe deploy nginx, troupe deploy k8s
int deploy_k8s_command(const Args& args);     // troupe deploy k8s (after "k8s")
int bench_serve_command(const Args& args);    // troupe bench serve
int bench_latency_command(const Args& args);  // troupe bench latency
int serve_command(const Args& args);
int usage_command(const Args& args);
int plan_command(const Args& args);  // troupe plan --device-memory BYTES
// troupe tensor-parallel-rank: a rank process its group's leader starts (not in the usage)
int tensor_parallel_rank_command(const Args& args);

// Prints "troupe: <message>" to stderr and returns 2.
int input_error(const std::string& message);

// Parses a command's flags into `flags`. Returns the exit code when the command is already
// done: 0 after printing its --help, 2 after naming a bad flag; nullopt to go on.
std::optional<int> parse_flags(const CommandSpec& spec, const Args& args, Flags& flags);
// The same for a command with settings (cli/settings: --config, TROUPE_*, flags), which also
// answers --print-config.
std::optional<int> parse_settings(const CommandSpec& spec, const Args& args, Flags& flags);
// input_error for a message about settings: a value from a file or a variable is named by its
// key and file, or its variable.
int input_error(const Flags& flags, const std::string& message);

}  // namespace troupe::cli
