// The shared-memory group: ranks as forked processes meet in the collectives with the in-process
// group's results (all-reduce summed in rank order, gather, broadcast), data longer than a slot
// goes in pieces, many collectives in a row keep their order, and a rank whose process dies ends
// every other rank's wait with CollectiveAborted naming it, instead of a hang.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <functional>
#include <vector>

#include "engine/parallel/shared_memory_group.hpp"

using namespace troupe::parallel;

namespace {

// Forks `size - 1` processes that join the group as ranks 1.., runs body on every rank (rank 0
// here), and returns the children's exit statuses (0 when body returned true).
std::vector<int> on_processes(int size, size_t slot_bytes,
                              const std::function<bool(Communicator&)>& body) {
  std::vector<pid_t> children;
  auto created = create_shared_memory_group(size, slot_bytes, {});
  REQUIRE(created.ok());
  std::unique_ptr<Communicator> leader = std::move(*created);
  const std::string name = shared_memory_name(*leader);
  for (int rank = 1; rank < size; ++rank) {
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      auto joined = join_shared_memory_group(name, rank, {});
      bool ok = false;
      if (joined.ok()) {
        try {
          ok = body(**joined);
        } catch (...) {
        }
      }
      _exit(ok ? 0 : 1);
    }
    children.push_back(pid);
  }
  CHECK(body(*leader));
  std::vector<int> statuses;
  for (pid_t pid : children) {
    int status = 0;
    waitpid(pid, &status, 0);
    statuses.push_back(status);
  }
  return statuses;
}

}  // namespace

TEST_CASE("processes in shared memory: all-reduce in rank order, gather and broadcast") {
  const auto statuses = on_processes(3, 64, [](Communicator& c) {
    // Longer than a 64-byte slot (16 floats): goes in pieces.
    std::vector<float> data(100);
    for (size_t i = 0; i < data.size(); ++i) data[i] = float(c.rank() + 1) * float(i) + 0.1f;
    c.all_reduce_sum(data);
    for (size_t i = 0; i < data.size(); ++i) {
      // 0 + x0 + x1 + x2, in that order, as every rank computes it.
      const float expected =
          ((0.0f + (1.0f * float(i) + 0.1f)) + (2.0f * float(i) + 0.1f)) + (3.0f * float(i) + 0.1f);
      if (data[i] != expected) return false;
    }
    std::vector<float> mine(40, float(c.rank())), all(120);
    c.all_gather(mine, all);
    for (int r = 0; r < 3; ++r)
      for (int i = 0; i < 40; ++i)
        if (all[r * 40 + i] != float(r)) return false;
    std::vector<std::byte> bytes(150, std::byte{0});
    if (c.rank() == 2)
      for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = std::byte(i & 0xff);
    c.broadcast(bytes, 2);
    for (size_t i = 0; i < bytes.size(); ++i)
      if (bytes[i] != std::byte(i & 0xff)) return false;
    for (int step = 0; step < 500; ++step) {
      std::vector<float> one(5, float(step + c.rank()));
      c.all_reduce_sum(one);
      if (one[4] != float(3 * step + 3)) return false;
    }
    return c.stats().all_reduces == 501 && c.stats().all_gathers == 1;
  });
  for (int status : statuses) CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
}

TEST_CASE("a rank whose process dies ends the others' waits, naming it") {
  pid_t doomed = -1, survivor = -1;
  auto group = create_shared_memory_group(3, 4096, [&]() -> std::optional<std::string> {
    int status = 0;
    if (waitpid(doomed, &status, WNOHANG) == doomed) return "rank 1 was killed";
    return std::nullopt;
  });
  REQUIRE(group.ok());
  const std::string live = shared_memory_name(**group);
  doomed = fork();
  REQUIRE(doomed >= 0);
  if (doomed == 0) {
    auto joined = join_shared_memory_group(live, 1, {});
    pause();  // never arrives: killed below
    _exit(0);
  }
  survivor = fork();
  REQUIRE(survivor >= 0);
  if (survivor == 0) {
    auto joined = join_shared_memory_group(live, 2, {});
    if (!joined.ok()) _exit(3);
    try {
      (*joined)->barrier();
    } catch (const CollectiveAborted&) {
      _exit(0);  // ended by rank 0's abort
    }
    _exit(1);
  }
  kill(doomed, SIGKILL);
  CHECK_THROWS_WITH((*group)->barrier(), Catch::Contains("rank 1 was killed"));
  int status = 0;
  waitpid(survivor, &status, 0);
  CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
}

TEST_CASE("joining what is not a group is refused") {
  CHECK_FALSE(join_shared_memory_group("/troupe-tp-no-such-group", 1, {}).ok());
  auto group = create_shared_memory_group(2, 4096, {});
  REQUIRE(group.ok());
  const std::string name = shared_memory_name(**group);
  CHECK_THAT(join_shared_memory_group(name, 2, {}).message(), Catch::Contains("has no rank 2"));
  release_name(**group);
  CHECK_FALSE(join_shared_memory_group(name, 1, {}).ok());  // the name is gone once released
}
