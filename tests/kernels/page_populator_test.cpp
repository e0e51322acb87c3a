#include <sys/mman.h>
#include <unistd.h>
#include <catch2/catch.hpp>

#include <memory>
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
