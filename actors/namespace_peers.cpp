#include "actors/namespace_peers.hpp"

#include <unistd.h>

#include <charconv>
#include <fstream>
#include <string>
#include <system_error>
#include <thread>

namespace troupe {
namespace {

// The process id a /proc entry names, or -1 for the entries that are not processes.
int pid_of(const std::string& name) {
  int pid = -1;
  const auto [end, error] = std::from_chars(name.data(), name.data() + name.size(), pid);
  return error == std::errc() && end == name.data() + name.size() ? pid : -1;
}

// A process's state letter from /proc/PID/stat ("PID (COMM) STATE ..."; COMM may itself hold
// spaces and parentheses, so the state follows the last ')'), or '?' when it cannot be read
// (the process ended meanwhile).
char state_of(const std::filesystem::path& stat) {
  std::ifstream file(stat);
  std::string line;
  if (!std::getline(file, line)) return '?';
  const auto close = line.rfind(')');
  if (close == std::string::npos || close + 2 >= line.size()) return '?';
  return line[close + 2];
}

}  // namespace

int other_live_processes(const std::filesystem::path& proc, int self) {
  int count = 0;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(proc, error)) {
    const int pid = pid_of(entry.path().filename().string());
    if (pid < 0 || pid == self) continue;
    const char state = state_of(entry.path() / "stat");
    if (state != '?' && state != 'Z' && state != 'X') ++count;
  }
  return count;
}

bool outlive_namespace_peers(std::chrono::milliseconds bound) {
  const int self = static_cast<int>(getpid());
  if (self != 1) return true;
  constexpr auto kLook = std::chrono::milliseconds(50);
  const auto deadline = std::chrono::steady_clock::now() + bound;
  while (other_live_processes("/proc", self) > 0) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(kLook);  // other processes' lifetimes: nothing to wait on
  }
  return true;
}

}  // namespace troupe
