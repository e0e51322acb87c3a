// libFuzzer entry point for the gateway's API keys file (net/auth/api_keys): any bytes as an
// --api-keys-file must give keys or one clear error, never a crash; an error never echoes a
// key the file holds (errors end up in logs), and every key a file gives authenticates as
// itself.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "net/auth/api_keys.hpp"

using namespace troupe;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = [] {
    std::atexit(
        [] { std::remove(("/tmp/troupe_fuzz_api_keys_" + std::to_string(getpid())).c_str()); });
    return "/tmp/troupe_fuzz_api_keys_" + std::to_string(getpid());
  }();
  if (FILE* f = std::fopen(path.c_str(), "wb")) {
    std::fwrite(data, 1, size, f);
    std::fclose(f);
  }
  // A known key beside the file's: it authenticates whenever the file is accepted.
  const std::string known = "sk-fuzz-known-4f9c2a";
  auto keys = auth::ApiKeys::create({known}, path);
  if (!keys) {
    if (keys.message().empty()) __builtin_trap();  // an error must say what is wrong
    if (keys.message().find(known) != std::string::npos) __builtin_trap();  // never a key
    return 0;
  }
  const auth::KeyPolicy* policy = keys->authenticate("Bearer " + known);
  if (!policy || policy->name != "key-1") __builtin_trap();
  if (keys->authenticate("Bearer ") != nullptr) __builtin_trap();
  return 0;
}
