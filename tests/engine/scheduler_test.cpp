#include <catch2/catch.hpp>
#include <numeric>
#include <vector>

#include "engine/sched/scheduler.hpp"

using namespace troupe;

namespace {

std::vector<int32_t> tokens(int n, int first = 1) {
  std::vector<int32_t> t(static_cast<size_t>(n));
  std::iota(t.begin(), t.end(), first);
  return t;
}

const ScheduledChunk* chunk_of(const SchedulePlan& plan, SequenceId id) {
  for (const auto& c : plan.chunks) {
    if (c.id == id) return &c;
  }
  return nullptr;
}

// Completes a plan as the engine would: every sampling chunk gets a next token.
void run(Scheduler& s, const SchedulePlan& plan, int32_t token = 7) {
  s.complete(plan);
  for (const auto& c : plan.chunks) {
    if (c.samples) s.append_token(c.id, token);
  }
}

}  // namespace

TEST_CASE("scheduler: a prompt within the budget is computed in one step, then decodes") {
  BlockPool pool(16, 4, true);
  Scheduler s({64, 8, true}, pool);
  s.add(1, tokens(10), 0);
  auto plan = s.schedule();
  REQUIRE(plan.chunks.size() == 1);
  CHECK(plan.chunks[0].start == 0);
  CHECK(plan.chunks[0].length == 10);
  CHECK(plan.chunks[0].samples);
  CHECK(pool.used_blocks() == 3);
  run(s, plan);
  plan = s.schedule();
  REQUIRE(plan.chunks.size() == 1);
  CHECK(plan.chunks[0].start == 10);
  CHECK(plan.chunks[0].length == 1);
  CHECK(s.running() == 1);
}

TEST_CASE("scheduler: chunked prefill splits a long prompt and serves decodes first") {
  BlockPool pool(64, 4, true);
  Scheduler s({8, 8, true}, pool);
  s.add(1, tokens(3), 0);
  run(s, s.schedule());  // 1 is decoding now
  s.add(2, tokens(20, 100), 0);
  auto plan = s.schedule();
  REQUIRE(plan.chunks.size() == 2);
  CHECK(plan.chunks[0].id == 1);  // the decode first
  CHECK(plan.chunks[1].id == 2);
  CHECK(plan.chunks[1].length == 7);  // the rest of the budget
  CHECK_FALSE(plan.chunks[1].samples);
  CHECK(plan.tokens == 8);
  run(s, plan);
  plan = s.schedule();
  CHECK(chunk_of(plan, 2)->start == 7);
  CHECK(chunk_of(plan, 2)->length == 7);
}

TEST_CASE("scheduler: without chunked prefill a prompt waits for a step it fits in whole") {
  BlockPool pool(64, 4, true);
  Scheduler s({8, 8, false}, pool);
  s.add(1, tokens(3), 0);
  run(s, s.schedule());
  s.add(2, tokens(8, 100), 0);
  auto plan = s.schedule();
  REQUIRE(plan.chunks.size() == 1);  // 1's decode leaves 7 tokens: 2 does not fit
  CHECK(s.waiting() == 1);
  s.remove(1);
  plan = s.schedule();
  REQUIRE(plan.chunks.size() == 1);
  CHECK(plan.chunks[0].length == 8);
}

TEST_CASE("scheduler: max-num-seqs bounds the running sequences") {
  BlockPool pool(64, 4, true);
  Scheduler s({100, 2, true}, pool);
  for (SequenceId id = 1; id <= 3; ++id) s.add(id, tokens(5, static_cast<int>(id) * 10), 0);
  const auto plan = s.schedule();
  CHECK(plan.chunks.size() == 2);
  CHECK(s.running() == 2);
  CHECK(s.waiting() == 1);
}

TEST_CASE("scheduler: lower priority values are admitted first, FCFS among equals") {
  BlockPool pool(64, 4, true);
  Scheduler s({100, 2, true}, pool);
  s.add(1, tokens(4, 10), 5);
  s.add(2, tokens(4, 20), 0);
  s.add(3, tokens(4, 30), 0);
  const auto plan = s.schedule();
  CHECK(chunk_of(plan, 2));
  CHECK(chunk_of(plan, 3));
  CHECK_FALSE(chunk_of(plan, 1));
}

TEST_CASE("scheduler: when blocks run out the newest running sequence is preempted") {
  BlockPool pool(4, 4, false);  // 16 token slots
  Scheduler s({100, 8, true}, pool);
  s.add(1, tokens(4, 10), 0);
  s.add(2, tokens(4, 20), 0);
  s.add(3, tokens(4, 30), 0);
  run(s, s.schedule());  // three blocks used, each full
  CHECK(pool.free_blocks() == 1);
  const int64_t queried = s.prefix_cache().queried_tokens;
  const auto plan = s.schedule();  // each decode needs a new block: only one is left
  REQUIRE(plan.preempted.size() == 1);
  CHECK(plan.preempted[0] == 3);
  REQUIRE(plan.chunks.size() == 2);
  CHECK(plan.chunks[0].id == 1);
  CHECK(plan.chunks[1].id == 2);
  CHECK(s.find(3)->status == SequenceStatus::waiting);
  CHECK(s.find(3)->computed == 0);
  CHECK(s.find(3)->block_table.empty());
  CHECK(s.find(3)->tokens.size() == 5);  // its sampled token is kept for the recompute
  CHECK(s.preemptions() == 1);
  CHECK(s.schedule().chunks.size() == 2);  // 3 still finds no free block

  SECTION("the preempted sequence comes back recomputing everything") {
    s.remove(1);
    s.remove(2);
    const auto next = s.schedule();
    REQUIRE(next.chunks.size() == 1);
    CHECK(next.chunks[0].id == 3);
    CHECK(next.chunks[0].start == 0);
    CHECK(next.chunks[0].length == 5);
    CHECK(next.chunks[0].samples);
    // Its prompt was looked up once, at its first admission: a recompute is not a new query.
    CHECK(s.prefix_cache().queried_tokens == queried);
  }
}

TEST_CASE("scheduler: a sequence that cannot get blocks behind older ones preempts itself") {
  BlockPool pool(3, 4, false);
  Scheduler s({100, 8, true}, pool);
  s.add(1, tokens(7, 10), 0);
  s.add(2, tokens(4, 20), 0);
  run(s, s.schedule());  // 1 holds two blocks (7 tokens + room for 1), 2 holds one, full
  run(s, s.schedule());  // 1's decode fits its second block; 2 needs a block: none left
  CHECK(s.find(2)->status == SequenceStatus::waiting);
  CHECK(s.find(1)->computed == 8);
}

TEST_CASE("scheduler: removing a sequence returns every block at once") {
  BlockPool pool(8, 4, true);
  Scheduler s({100, 8, true}, pool);
  s.add(1, tokens(10), 0);
  s.add(2, tokens(3), 0);
  run(s, s.schedule());
  CHECK(pool.used_blocks() == 4);
  CHECK(s.remove(1));
  CHECK(s.remove(2));
  CHECK_FALSE(s.remove(2));
  CHECK(pool.used_blocks() == 0);
  CHECK(s.running() == 0);
}

TEST_CASE("scheduler: a cached prefix is not computed again") {
  BlockPool pool(16, 4, true);
  Scheduler s({100, 8, true}, pool);
  s.add(1, tokens(10), 0);
  run(s, s.schedule());    // blocks 0 and 1 of 1 are full and cached
  s.add(2, tokens(9), 0);  // shares 8 tokens (two blocks) and one more
  auto plan = s.schedule();
  const ScheduledChunk* c = chunk_of(plan, 2);
  REQUIRE(c);
  CHECK(c->start == 8);
  CHECK(c->length == 1);
  CHECK(s.find(2)->block_table[0] == s.find(1)->block_table[0]);
  CHECK(s.find(2)->block_table[1] == s.find(1)->block_table[1]);
  CHECK(s.prefix_cache().hit_tokens == 8);
  CHECK(s.prefix_cache().queried_tokens == 19);

  SECTION("a prompt that is all cached still computes its last token") {
    s.add(3, tokens(8), 0);
    const auto next = s.schedule();
    const ScheduledChunk* c3 = chunk_of(next, 3);
    REQUIRE(c3);
    CHECK(c3->start == 4);
    CHECK(c3->length == 4);
  }
}

TEST_CASE("scheduler: forked samples share blocks and copy the partial one on write") {
  BlockPool pool(16, 4, true);
  Scheduler s({100, 8, true}, pool);
  s.add(1, tokens(6), 0);
  auto plan = s.schedule();
  s.complete(plan);
  s.fork(1, 2);
  s.append_token(1, 50);
  s.append_token(2, 60);
  CHECK(pool.ref_count(s.find(1)->block_table[0]) == 2);
  CHECK(pool.ref_count(s.find(1)->block_table[1]) == 2);
  plan = s.schedule();
  REQUIRE(plan.chunks.size() == 2);
  REQUIRE(plan.copies.size() == 1);  // the first writer copies the shared partial block
  CHECK(plan.copies[0].from == s.find(2)->block_table[1]);
  CHECK(plan.copies[0].to == s.find(1)->block_table[1]);
  CHECK(s.find(1)->block_table[0] == s.find(2)->block_table[0]);  // the full one stays shared
  s.remove(1);
  s.remove(2);
  CHECK(pool.used_blocks() == 0);
}
