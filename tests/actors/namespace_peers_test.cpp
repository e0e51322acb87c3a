// A drained container main process outlives the preStop hook: the count it waits on.
#include "actors/namespace_peers.hpp"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>

namespace {

struct FakeProc {
  std::filesystem::path root =
      std::filesystem::temp_directory_path() / ("troupe-fake-proc-" + std::to_string(getpid()));
  FakeProc() { std::filesystem::create_directories(root); }
  ~FakeProc() { std::filesystem::remove_all(root); }
  void process(int pid, const std::string& stat) {
    std::filesystem::create_directories(root / std::to_string(pid));
    std::ofstream(root / std::to_string(pid) / "stat") << stat;
  }
};

}  // namespace

TEST_CASE(
    "a namespace's other live processes: ended ones, itself, its children and non-process "
    "entries aside") {
  FakeProc proc;
  proc.process(1, "1 (troupe) S 0 1 1 0 -1");
  CHECK(troupe::other_live_processes(proc.root, 1) == 0);

  proc.process(7, "7 (timeout) S 0 7 7 0 -1");         // the hook: its parent outside, 0 here
  proc.process(9, "9 (troupe (drain)) R 7 7 7 0 -1");  // COMM with a space and parentheses
  proc.process(12, "12 (sh) Z 0 12 12 0 -1");          // ended, waiting to be reaped
  proc.process(14, "14 (sh) Z) R 0 14 14 0 -1");       // COMM "sh) Z": the state follows the last )
  proc.process(15, "15 (gone) X 0 15 15 0 -1");        // dead
  proc.process(16, "16 (two\nlines) S 0 16 16 0 -1");  // COMM with a newline
  proc.process(20, "20 (troupe) S 1 20 20 0 -1");      // a child of 1 (a tensor-parallel rank)
  std::filesystem::create_directories(proc.root / "self");
  std::ofstream(proc.root / "self" / "stat") << "1 (troupe) S 0 1 1 0 -1";  // not a process entry
  std::filesystem::create_directories(proc.root / "net");
  std::filesystem::create_directories(proc.root / "13");  // ended while listed: no stat file
  std::ofstream(proc.root / "uptime") << "1.0 1.0";
  CHECK(troupe::other_live_processes(proc.root, 1) == 4);  // 7, 9, 14, 16
  CHECK(troupe::other_live_processes(proc.root, 7) == 4);  // 1, 14, 16, 20 (9 is its child)

  for (const char* pid : {"7", "9", "14", "16"}) std::filesystem::remove_all(proc.root / pid);
  CHECK(troupe::other_live_processes(proc.root, 1) == 0);
  CHECK(troupe::other_live_processes(proc.root / "missing", 1) == 0);  // no listing: no throw
}

TEST_CASE("a process that is not its namespace's first does not wait for the others") {
  REQUIRE(getpid() != 1);
  CHECK(troupe::other_live_processes("/proc", static_cast<int>(getpid())) > 0);  // ctest, at least
  CHECK(troupe::outlive_namespace_peers(std::chrono::milliseconds(200)));  // false if it waited
}
