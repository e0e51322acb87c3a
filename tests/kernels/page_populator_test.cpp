#include <sys/mman.h>
#include <unistd.h>
#include <catch2/catch.hpp>

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <vector>

#include "kernels/cpu/huge_page_arena.hpp"
#include "kernels/cpu/page_populator.hpp"

using namespace troupe;

namespace {

// Pages of [base, base + bytes) that are in memory now.
size_t resident_pages(std::byte* base, size_t bytes) {
  const auto page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> in((bytes + page - 1) / page);
  REQUIRE(mincore(base, bytes, in.data()) == 0);
  size_t count = 0;
  for (unsigned char c : in) count += c & 1;
  return count;
}

}  // namespace

TEST_CASE("a page populator faults a whole range in and leaves what it holds") {
  constexpr size_t kBytes = size_t{8} << 20;
  HugePageArena arena(kBytes);
  std::byte* base = arena.take(kBytes);
  base[5 << 20] = std::byte{42};  // written before: populating must not clear it
  const size_t pages = kBytes / static_cast<size_t>(sysconf(_SC_PAGESIZE));
  CHECK(resident_pages(base, kBytes) < pages);
  PagePopulator populator(base, kBytes);
  populator.wait();
  CHECK(resident_pages(base, kBytes) == pages);
  CHECK(base[5 << 20] == std::byte{42});
  CHECK(base[kBytes - 1] == std::byte{0});
}

TEST_CASE("a striped range is populated part by part at each depth, every step once") {
  constexpr size_t kStep = size_t{2} << 20;
  const auto steps = [&](const std::vector<size_t>& offsets) {
    std::vector<size_t> out;
    for (size_t at : offsets) out.push_back(at / kStep);
    return out;
  };
  // 10 steps in 2 parts of 5: each part's first, then each part's second, ...
  CHECK(steps(population_order(10 * kStep, 2)) ==
        std::vector<size_t>{0, 5, 1, 6, 2, 7, 3, 8, 4, 9});
  // One part: address order; a last partial step included.
  CHECK(steps(population_order(3 * kStep + 1, 1)) == std::vector<size_t>{0, 1, 2, 3});
  // Parts that do not end on steps (the KV cache's 60 parts of 6 KiB blocks): every step once,
  // the parts' first steps first.
  const size_t bytes = 60 * (size_t{2900} * 6144);
  const std::vector<size_t> order = steps(population_order(bytes, 60));
  std::vector<size_t> sorted = order;
  std::sort(sorted.begin(), sorted.end());
  std::vector<size_t> all((bytes + kStep - 1) / kStep);
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;
  CHECK(sorted == all);
  for (size_t p = 0; p < 60; ++p) {
    const size_t first = p * (bytes / 60) / kStep;
    const auto at = std::find(order.begin(), order.end(), first) - order.begin();
    CHECK(at < 60);  // among the first round
  }
}

TEST_CASE("a page populator faults a striped range in whole") {
  constexpr size_t kBytes = size_t{12} << 20;
  HugePageArena arena(kBytes);
  std::byte* base = arena.take(kBytes);
  base[(7 << 20) + 3] = std::byte{7};  // in the word a page's write goes through
  PagePopulator populator(base, kBytes, 3);
  populator.wait();
  CHECK(resident_pages(base, kBytes) == kBytes / static_cast<size_t>(sysconf(_SC_PAGESIZE)));
  CHECK(base[(7 << 20) + 3] == std::byte{7});
  CHECK_THROWS_AS(PagePopulator(base + 8, 4096), std::invalid_argument);
}

TEST_CASE("a page populator stops when it goes, however far it got") {
  // Gone at once, long before 1 GiB is in: its destructor returns (the test would hang if it
  // waited for the whole range) and the range can be unmapped after it.
  constexpr size_t kBytes = size_t{1} << 30;
  auto arena = std::make_unique<HugePageArena>(kBytes);
  std::byte* base = arena->take(kBytes);
  { PagePopulator populator(base, kBytes); }
  CHECK(resident_pages(base, kBytes) < kBytes / static_cast<size_t>(sysconf(_SC_PAGESIZE)));
  arena.reset();
}
