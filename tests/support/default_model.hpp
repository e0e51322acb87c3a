#pragma once
// Where the default model is cached, for the tests that run it. A missing file fails the test
// with the command that fetches it, never a silent skip.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace troupe::test {

inline std::string default_model_path() {
  const char* home = std::getenv("TROUPE_HOME");
  const char* user = std::getenv("HOME");
  const std::string root =
      home && *home ? home : std::string(user && *user ? user : ".") + "/.cache/troupe";
  const std::string path = root + "/models/SmolLM2-135M-Instruct.Q4_1.gguf";
  if (!std::filesystem::exists(path)) {
    FAIL("the default model is not at " << path << ": run scripts/fetch-model (or make test)");
  }
  return path;
}

}  // namespace troupe::test
