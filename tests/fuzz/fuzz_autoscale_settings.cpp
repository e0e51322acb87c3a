// libFuzzer entry point for the autoscaler's settings: any bytes as a policy file
// (autoscale/policy_file) and as a kubeconfig (autoscale/actuators/kubernetes_target) must give
// settings or one clear error, never a crash; settings a policy file gives pass check() or are
// refused by it, never half-checked.
#include <cstdint>
#include <string>

#include "autoscale/actuators/kubernetes_target.hpp"
#include "autoscale/policy_file.hpp"

using namespace troupe;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  if (auto file = autoscale::parse_policy_file(text, "fuzz.yaml")) {
    (void)autoscale::check(file->policy);
  } else if (file.message().empty()) {
    __builtin_trap();  // an error must say what is wrong
  }
  // Relative file names resolve under a directory that does not exist: reads fail cleanly.
  auto target = autoscale::parse_kubeconfig(text, "/nonexistent/kubeconfig", "troupe", "");
  if (!target && target.message().empty()) __builtin_trap();
  return 0;
}
