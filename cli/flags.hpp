#pragma once
// Command-line flags: `--name value`, `--name=value` and boolean `--name`, checked against a
// command's declared flags so a typo is an error, not a silent default.
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/result.hpp"

namespace troupe::cli {

struct FlagSpec {
  std::string name;        // without the leading dashes
  std::string value_name;  // empty for a boolean flag
  std::string help;
  bool repeatable = false;
};

// --model, as every command that loads a model takes it.
inline FlagSpec model_flag() {
  return {"model", "PATH", "GGUF model file (default: the cached SmolLM2-135M-Instruct)"};
}

// --threads, the compute threads of a command that runs the model.
inline FlagSpec threads_flag() {
  return {"threads", "N", "compute threads (default: every core)"};
}

struct CommandSpec {
  std::string name;      // e.g. "generate"
  std::string synopsis;  // e.g. "troupe generate [flags] --prompt TEXT"
  std::string summary;
  std::vector<FlagSpec> flags;
};

class Flags {
 public:
  // Parses args (after the command name). `--help` is always accepted.
  static Result<Flags> parse(const CommandSpec& spec, const std::vector<std::string>& args);

  bool has(const std::string& name) const { return values_.count(name) > 0; }
  std::optional<std::string> get(const std::string& name) const;
  std::vector<std::string> get_all(const std::string& name) const;
  const std::vector<std::string>& positional() const { return positional_; }

  // Typed values; errors name the flag and the bad value.
  Result<long long> get_int(const std::string& name, long long fallback) const;
  Result<double> get_double(const std::string& name, double fallback) const;

  // Sets a setting that came from elsewhere than the command line (cli/settings): its values
  // (one empty value for a boolean that is on; none removes it) and where it came from, as an
  // error should name it ("key 'port' in serve.yaml", "TROUPE_PORT").
  void set(const std::string& name, const std::vector<std::string>& values, std::string origin);
  // `message` with every "flag --name" and "--name" of a setting that did not come from the
  // command line put as its origin.
  std::string attribute(const std::string& message) const;

 private:
  std::multimap<std::string, std::string> values_;
  std::map<std::string, std::string> origins_;  // settings from a file or the environment
  std::vector<std::string> positional_;
};

// The text `troupe <cmd> --help` prints.
std::string usage(const CommandSpec& spec);

// An integer flag in [min, max]; the error names the flag.
Result<long long> ranged_int(const Flags& flags, const char* name, long long fallback,
                             long long min, long long max);
// A positive number of seconds (at most a week); the error names the flag.
Result<std::chrono::milliseconds> seconds_flag(const Flags& flags, const char* name,
                                               double fallback);

}  // namespace troupe::cli
