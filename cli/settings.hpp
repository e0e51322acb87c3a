#pragma once
// A command's settings from three places, each key named after its flag: a YAML file
// (--config FILE, or TROUPE_CONFIG), TROUPE_* environment variables (TROUPE_MAX_NUM_SEQS for
// --max-num-seqs), and the command line. The command line wins over the environment, which wins
// over the file. What comes out is one Flags, as if every setting had been a flag, that still
// knows where each value came from: an error about a value names its key and file (or its
// variable), not a flag the user never typed.
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "cli/flags.hpp"
#include "engine/result.hpp"

namespace troupe::cli {

// --config and --print-config, for the commands that take a settings file.
std::vector<FlagSpec> config_flags();

// The environment variable for a flag: TROUPE_ and its name in capitals, '-' as '_'.
std::string environment_name(const std::string& flag);

using Environment = std::function<std::optional<std::string>(const std::string&)>;
// The process's own environment (getenv).
Environment process_environment();

// `command_line` as parsed, with the environment's and the config file's settings under it.
// Errors (one line): an unreadable file or bad YAML, a file that is not a map, an unknown key,
// a value of the wrong shape (a boolean flag wants true or false, a repeatable one a value or a
// list, the others one value), each naming the key and the file; a boolean variable that is not
// 1/0/true/false/yes/no/on/off, naming the variable.
Result<Flags> merge_settings(const CommandSpec& spec, Flags command_line,
                             const Environment& environment = process_environment());

// The settings as a YAML config file would give them, in the order of the command's flags;
// the values of secret flags (API keys) are shown as "<redacted>".
std::string settings_yaml(const CommandSpec& spec, const Flags& flags);

}  // namespace troupe::cli
