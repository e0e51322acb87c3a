// The in-process tensor-parallel group: ranks as threads meet in each collective; an all-reduce
// sums in rank order so every rank ends bit-identical, an all-gather concatenates in rank order,
// a broadcast copies the root's buffer; many collectives in a row keep their order; an abort
// (a rank failed) ends every wait instead of hanging the group.
#include <catch2/catch.hpp>

#include <atomic>
#include <cstring>
#include <functional>
#include <thread>
#include <vector>

#include "engine/parallel/in_process_group.hpp"

using namespace troupe::parallel;

namespace {

// Runs body(communicator) on `size` threads, one per rank.
void on_ranks(int size, const std::function<void(Communicator&)>& body) {
  InProcessGroup group(size);
  std::vector<std::unique_ptr<Communicator>> ranks;
  for (int r = 0; r < size; ++r) ranks.push_back(group.communicator(r));
  std::vector<std::thread> threads;
  for (int r = 0; r < size; ++r) threads.emplace_back([&, r] { body(*ranks[r]); });
  for (auto& t : threads) t.join();
}

}  // namespace

TEST_CASE("an all-reduce sums in rank order: every rank ends with the same bits") {
  constexpr int kRanks = 3;
  std::vector<std::vector<float>> results(kRanks);
  on_ranks(kRanks, [&](Communicator& c) {
    // Values whose sum depends on the order of addition in float.
    std::vector<float> data = {1e8f * (c.rank() == 0   ? 1
                                       : c.rank() == 1 ? -1
                                                       : 0),
                               0.1f * c.rank(), float(c.rank() + 1), 3.0f};
    data[0] += c.rank() == 2 ? 1.0f : 0.0f;
    c.all_reduce_sum(data);
    results[c.rank()] = data;
  });
  const float first = (1e8f + -1e8f) + 1.0f;  // rank 0, then 1, then 2
  for (const auto& r : results) {
    CHECK(std::memcmp(r.data(), results[0].data(), r.size() * sizeof(float)) == 0);
    CHECK(r[0] == first);
    CHECK(r[2] == 6.0f);
    CHECK(r[3] == 9.0f);
  }
}

TEST_CASE("an all-gather concatenates in rank order; a broadcast copies the root's buffer") {
  constexpr int kRanks = 4;
  std::vector<std::vector<float>> gathered(kRanks), broadcast(kRanks);
  on_ranks(kRanks, [&](Communicator& c) {
    const std::vector<float> mine = {float(c.rank()), float(10 * c.rank())};
    std::vector<float> all(2 * kRanks);
    c.all_gather(mine, all);
    gathered[c.rank()] = all;
    std::vector<float> data = {float(c.rank()), -1.0f};
    c.broadcast(std::as_writable_bytes(std::span(data)), 2);
    broadcast[c.rank()] = data;
  });
  for (int r = 0; r < kRanks; ++r) {
    CHECK(gathered[r] == std::vector<float>{0, 0, 1, 10, 2, 20, 3, 30});
    CHECK(broadcast[r] == std::vector<float>{2, -1});
  }
}

TEST_CASE("many collectives in a row keep their order, and count in the stats") {
  constexpr int kRanks = 3;
  constexpr int kSteps = 500;
  std::atomic<int> wrong{0};
  std::vector<CollectiveStats> stats(kRanks);
  on_ranks(kRanks, [&](Communicator& c) {
    for (int step = 0; step < kSteps; ++step) {
      std::vector<float> data(7, float(step + c.rank()));
      c.all_reduce_sum(data);
      if (data[6] != float(3 * step + 3)) ++wrong;  // step + 0, + 1, + 2
      c.barrier();
    }
    stats[c.rank()] = c.stats();
  });
  CHECK(wrong == 0);
  for (const auto& s : stats) {
    CHECK(s.all_reduces == kSteps);
    CHECK(s.seconds >= 0);
  }
}

TEST_CASE("an aborted group ends every wait with CollectiveAborted instead of hanging") {
  InProcessGroup group(3);
  auto waiting = group.communicator(0);
  auto also = group.communicator(1);
  std::atomic<int> aborted{0};
  std::thread first([&] {
    std::vector<float> data(4, 1.0f);
    try {
      waiting->all_reduce_sum(data);
    } catch (const CollectiveAborted&) {
      ++aborted;
    }
  });
  std::thread second([&] {
    try {
      also->barrier();
    } catch (const CollectiveAborted&) {
      ++aborted;
    }
  });
  group.abort();  // rank 2 never comes: it failed
  first.join();
  second.join();
  CHECK(aborted == 2);
  CHECK_THROWS_AS(group.communicator(2)->barrier(), CollectiveAborted);  // and later ones too
  CHECK_THROWS_AS(group.communicator(3), std::invalid_argument);
  CHECK_THROWS_AS(InProcessGroup(0), std::invalid_argument);
}
