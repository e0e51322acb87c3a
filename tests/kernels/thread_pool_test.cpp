#include <atomic>
#include <catch2/catch.hpp>
#include <vector>

#include "kernels/cpu/thread_pool.hpp"

using namespace troupe;

TEST_CASE("parallel_for covers every index exactly once, many times in a row") {
  for (int threads : {1, 2, 3}) {
    ThreadPool pool(threads);
    CHECK(pool.size() == threads);
    for (int round = 0; round < 2000; ++round) {
      const int64_t count = round % 17;
      std::vector<std::atomic<int>> hits(static_cast<size_t>(count));
      pool.parallel_for(count, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) hits[static_cast<size_t>(i)]++;
      });
      for (auto& h : hits) REQUIRE(h.load() == 1);
    }
  }
}
