#pragma once
// The autoscaler's settings as a YAML file (`troupe serve --autoscale-rules FILE`; an example
// in configs/autoscale-rules.yaml): the policy's bounds, windows, cooldowns, step limits, SLO
// targets and rules, under the same names as the flags (snake_case). A key the file does not
// know is an error, so a typo is not silently a default. Flags given on the command line win.
#include <chrono>
#include <optional>
#include <string>

#include "autoscale/policy.hpp"
#include "engine/result.hpp"

namespace troupe::autoscale {

struct PolicyFile {
  PolicyConfig policy;                            // the defaults, with what the file sets
  std::optional<std::chrono::milliseconds> tick;  // tick_seconds
  std::optional<bool> advisory;
};

// Parses the text of a policy file; `origin` names it in errors. Rules replace the defaults
// when the file lists any.
Result<PolicyFile> parse_policy_file(const std::string& text, const std::string& origin);
Result<PolicyFile> load_policy_file(const std::string& path);

}  // namespace troupe::autoscale
