#include <catch2/catch.hpp>
#include <cstdint>
#include <new>

#include "kernels/cpu/huge_page_arena.hpp"

using namespace troupe;

TEST_CASE("a weight arena hands out aligned, zeroed, disjoint shares until it is used up") {
  HugePageArena arena(3 << 20);  // rounded up to two huge pages
  std::byte* first = arena.take(100);
  std::byte* second = arena.take(1);
  CHECK(reinterpret_cast<uintptr_t>(first) % (2 << 20) == 0);  // starts on a huge page
  CHECK(second == first + 128);  // 100 bytes take 128, whole 64-byte lines
  for (int i = 0; i < 129; ++i) CHECK(first[i] == std::byte{0});
  std::byte* rest = arena.take((4 << 20) - 192);
  CHECK(rest == first + 192);
  rest[(4 << 20) - 193] = std::byte{1};  // the last byte is the arena's
  CHECK_THROWS_AS(arena.take(1), std::bad_alloc);
}

TEST_CASE("a share taken without an arena keeps an arena of its own alive") {
  std::shared_ptr<std::byte> bytes = take_huge_page_bytes(nullptr, 1000);
  REQUIRE(bytes);
  CHECK(reinterpret_cast<uintptr_t>(bytes.get()) % 64 == 0);
  bytes.get()[999] = std::byte{7};
  const auto arena = std::make_shared<HugePageArena>(1);
  std::shared_ptr<std::byte> a = take_huge_page_bytes(arena, 64);
  std::shared_ptr<std::byte> b = take_huge_page_bytes(arena, 64);
  CHECK(b.get() == a.get() + 64);
  CHECK(arena.use_count() == 3);  // the shares own the arena with it
}
