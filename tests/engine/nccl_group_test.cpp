// The NCCL group: built with the CUDA toolkit's NCCL on the CI machine, so it compiles and links
// everywhere the toolkit is; its collectives run only where CUDA devices are visible (a lent GPU
// machine), one rank per device as threads: all-reduce, gather, broadcast and barrier. Without a
// device the test says so and checks that joining fails with the reason, not a hang.
#include <catch2/catch.hpp>

#include <thread>
#include <vector>

#include "engine/parallel/nccl_group.hpp"

using namespace troupe::parallel;

TEST_CASE("NCCL group: collectives over one rank per visible CUDA device") {
  if (!nccl_built()) {
    CHECK_THAT(new_nccl_group_id().message(), Catch::Contains("built without NCCL"));
    WARN("this build has no NCCL: its collectives were not run");
    return;
  }
  std::string why;
  const int devices = visible_cuda_devices(&why);
  if (devices == 0) {
    CHECK_THAT(join_nccl_group({}, 0, 1, 0).message(), Catch::Contains("not visible"));
    WARN("no CUDA device visible (" << why << "): the NCCL collectives were not run");
    return;
  }
  const int ranks = std::min(devices, 4);
  auto id = new_nccl_group_id();
  REQUIRE(id.ok());
  std::vector<std::string> failures(static_cast<size_t>(ranks));
  std::vector<std::thread> threads;
  for (int r = 0; r < ranks; ++r) {
    threads.emplace_back([&, r] {
      auto group = join_nccl_group(*id, r, ranks, r);
      if (!group.ok()) {
        failures[r] = group.message();
        return;
      }
      Communicator& c = **group;
      std::vector<float> data(1000, float(r + 1));
      c.all_reduce_sum(data);
      const float sum = float(ranks * (ranks + 1) / 2);
      if (data.front() != sum || data.back() != sum) failures[r] = "all-reduce";
      std::vector<float> mine(10, float(r)), all(10 * ranks);
      c.all_gather(mine, all);
      for (int k = 0; k < ranks; ++k)
        if (all[k * 10 + 9] != float(k)) failures[r] = "all-gather";
      std::vector<std::byte> bytes(33, std::byte(r == 0 ? 7 : 0));
      c.broadcast(bytes, 0);
      if (bytes[32] != std::byte(7)) failures[r] = "broadcast";
      c.barrier();
      if (c.stats().all_reduces != 1 || c.stats().all_gathers != 1) failures[r] = "stats";
    });
  }
  for (auto& t : threads) t.join();
  for (int r = 0; r < ranks; ++r) {
    INFO("rank " << r);
    CHECK(failures[r].empty());
  }
}
