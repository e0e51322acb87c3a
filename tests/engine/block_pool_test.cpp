#include <catch2/catch.hpp>
#include <vector>

#include "engine/kv/block_pool.hpp"

using namespace troupe;

namespace {

std::vector<int32_t> block_tokens(int first, int size = 4) {
  std::vector<int32_t> t;
  for (int i = 0; i < size; ++i) t.push_back(first + i);
  return t;
}

}  // namespace

TEST_CASE("block pool: reference counts decide when a block is free") {
  BlockPool pool(3, 4, false);
  auto a = pool.allocate();
  REQUIRE(a);
  CHECK(pool.free_blocks() == 2);
  pool.retain(*a);
  CHECK(pool.ref_count(*a) == 2);
  pool.release(*a);
  CHECK(pool.free_blocks() == 2);
  pool.release(*a);
  CHECK(pool.free_blocks() == 3);
  CHECK_THROWS(pool.release(*a));
}

TEST_CASE("block pool: allocation fails only when every block is referenced") {
  BlockPool pool(2, 4, true);
  auto a = pool.allocate(), b = pool.allocate();
  REQUIRE(a);
  REQUIRE(b);
  CHECK_FALSE(pool.allocate());
  pool.release(*b);
  CHECK(pool.allocate() == b);
}

TEST_CASE("block pool: a freed full block stays findable until it is evicted") {
  BlockPool pool(2, 4, true);
  const auto tokens = block_tokens(10);
  const int32_t a = *pool.allocate();
  const BlockHash h = pool.cache_full_block(a, root_block_hash(), tokens);
  CHECK(h == hash_block(root_block_hash(), tokens));
  pool.release(a);
  CHECK(pool.free_blocks() == 2);
  REQUIRE(pool.find_cached(root_block_hash(), tokens) == a);

  SECTION("a hit takes it off the free list") {
    pool.retain(a);
    CHECK(pool.free_blocks() == 1);
    CHECK(pool.ref_count(a) == 1);
  }
  SECTION("other tokens or another parent do not hit") {
    CHECK_FALSE(pool.find_cached(root_block_hash(), block_tokens(11)));
    CHECK_FALSE(pool.find_cached(h, tokens));
  }
  SECTION("the least recently freed block is evicted first") {
    const int32_t other = *pool.allocate();  // the never-used block comes before `a`
    CHECK(other != a);
    CHECK(pool.find_cached(root_block_hash(), tokens) == a);
    CHECK(*pool.allocate() == a);  // now `a` is reused and forgotten
    CHECK_FALSE(pool.find_cached(root_block_hash(), tokens));
  }
}

TEST_CASE("block pool: with prefix caching off nothing is ever found") {
  BlockPool pool(2, 4, false);
  const auto tokens = block_tokens(1);
  const int32_t a = *pool.allocate();
  pool.cache_full_block(a, root_block_hash(), tokens);
  CHECK_FALSE(pool.find_cached(root_block_hash(), tokens));
  pool.release(a);
  CHECK_FALSE(pool.find_cached(root_block_hash(), tokens));
  CHECK_THROWS(pool.retain(a));  // free and holding nothing
}

TEST_CASE("block pool: an equal block cached twice keeps the first") {
  BlockPool pool(3, 4, true);
  const auto tokens = block_tokens(5);
  const int32_t a = *pool.allocate(), b = *pool.allocate();
  pool.cache_full_block(a, root_block_hash(), tokens);
  pool.cache_full_block(b, root_block_hash(), tokens);
  pool.release(a);
  pool.release(b);
  CHECK(pool.find_cached(root_block_hash(), tokens) == a);
}
