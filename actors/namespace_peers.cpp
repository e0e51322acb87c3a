#include "actors/namespace_peers.hpp"

#include <unistd.h>

#include <charconv>
#include <fstream>
#include <iterator>
#include <sstream>
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

// A process's state letter and parent from /proc/PID/stat ("PID (COMM) STATE PPID ..."; COMM
// may hold spaces, parentheses and newlines, so the fields follow the last ')'). State '?' when
// it cannot be read (the process ended meanwhile).
struct ProcessStat {
  char state = '?';
  int parent = -1;
};

ProcessStat stat_of(const std::filesystem::path& stat) {
  std::ifstream file(stat);
  const std::string text{std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
  const auto close = text.rfind(')');
  if (close == std::string::npos || close + 2 >= text.size()) return {};
  ProcessStat result{text[close + 2], -1};
  std::istringstream rest(text.substr(close + 3));
  rest >> result.parent;
  return result;
}

}  // namespace

int other_live_processes(const std::filesystem::path& proc, int self) {
  int count = 0;
  std::error_code error;  // an unreadable listing ends the count: nothing here may throw
  for (std::filesystem::directory_iterator it(proc, error), end; !error && it != end;
       it.increment(error)) {
    const int pid = pid_of(it->path().filename().string());
    if (pid < 0 || pid == self) continue;
    const ProcessStat process = stat_of(it->path() / "stat");
    const bool ended = process.state == '?' || process.state == 'Z' || process.state == 'X';
    if (!ended && process.parent != self) ++count;
  }
  return count;
}

bool outlive_namespace_peers(std::chrono::milliseconds bound) {
  const int self = static_cast<int>(getpid());
  if (self != 1) return true;
  constexpr auto kPollInterval = std::chrono::milliseconds(50);
  const auto deadline = std::chrono::steady_clock::now() + bound;
  while (other_live_processes("/proc", self) > 0) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    // Polled: no one event says when the last of processes that are not its children ends.
    std::this_thread::sleep_for(kPollInterval);
  }
  return true;
}

}  // namespace troupe
