#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstddef>
#include <thread>
#include <vector>

#include "kernels/cpu/thread_pool.hpp"

using namespace troupe;

namespace {

// parallel_for(count) calls its function on every index exactly once.
void require_each_index_once(ThreadPool& pool, int64_t count) {
  std::vector<std::atomic<int>> hits(static_cast<size_t>(count));
  pool.parallel_for(count, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) hits[static_cast<size_t>(i)]++;
  });
  for (auto& h : hits) REQUIRE(h.load() == 1);
}

}  // namespace

TEST_CASE("parallel_for covers every index exactly once, many times in a row") {
  for (int threads : {1, 2, 3}) {
    ThreadPool pool(threads);
    CHECK(pool.size() == threads);
    for (int round = 0; round < 2000; ++round) {
      const int64_t count = round % 17;
      require_each_index_once(pool, count);
    }
  }
}

TEST_CASE("read-ahead hints between regions leave every region's work as it was") {
  // Each round hints at a buffer that the round frees after its region (as the hint requires):
  // a worker that read a hint's parts after the next region began (a stale hint) would read
  // freed memory (ASan).
  for (int threads : {1, 2, 3}) {
    ThreadPool pool(threads);
    for (int round = 0; round < 500; ++round) {
      const int64_t items = 1 + round % 7, bytes_per_item = 64 * (1 + round % 3);
      std::vector<std::byte> buffer(static_cast<size_t>(items * bytes_per_item));
      const ThreadPool::ItemBytes parts[] = {{buffer.data(), bytes_per_item, items - items / 2},
                                             {buffer.data(), bytes_per_item, items / 2}};
      pool.read_ahead(parts);
      if (round % 2 == 0) pool.read_ahead(parts);  // a second before any region: dropped
      const int64_t count = 1 + round % 17;
      require_each_index_once(pool, count);
    }
  }
}

TEST_CASE("arrive_and_wait: no thread passes before every thread has arrived") {
  // Plain, and reading ahead while it waits: a short span, one longer than the reading's
  // budget (stopped by it or by the last arrival), and an empty one.
  const std::vector<std::byte> bytes((size_t{1} << 20) + 100);
  const std::span<const std::byte> ahead[] = {std::span(bytes).first(1000), {}, bytes};
  for (int threads : {1, 2, 3}) {
    ThreadPool pool(threads, /*pin=*/false);
    std::vector<std::atomic<int>> slots(static_cast<size_t>(threads));
    std::atomic<int> stale{0};
    for (int region = 0; region < 50; ++region) {
      pool.run([&](int thread, int size) {
        for (int round = 0; round < 40; ++round) {
          const int stamp = region * 100 + round;
          slots[static_cast<size_t>(thread)].store(stamp, std::memory_order_relaxed);
          if (round % 2 == 0) {
            pool.arrive_and_wait();
          } else {
            pool.arrive_and_wait(ahead);
          }
          // Every thread's stamp of this round, written before the barrier, is seen after it.
          for (int other = 0; other < size; ++other) {
            if (slots[static_cast<size_t>(other)].load(std::memory_order_relaxed) != stamp) {
              ++stale;
            }
          }
          pool.arrive_and_wait();  // nobody writes the next round's stamp before all have read
        }
      });
    }
    CHECK(stale.load() == 0);
  }
}

TEST_CASE("parallel_for: a thread held up in its own range has the rest taken by the others") {
  ThreadPool pool(2, /*pin=*/false);
  const int64_t count = 64;
  std::atomic<int64_t> done{0};
  std::atomic<bool> others_finished{false};
  pool.parallel_for(count, [&](int64_t begin, int64_t end) {
    if (begin == 0) {
      // Item 0's chunk waits until every other item is done: only if the other thread takes
      // the rest of this thread's home range as well as its own.
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
      while (done.load() < count - end && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::yield();
      }
      others_finished = done.load() == count - end;
    }
    done += end - begin;
  });
  CHECK(others_finished);
  CHECK(done == count);
}

TEST_CASE("parallel_for: what a thread took from another's range, the others can take back") {
  // The caller's first chunk ([0, 8) of 64) holds it until the worker, done with its own range,
  // has taken half of the caller's rest ([20, 32)) and is held up in the first chunk it claims
  // of that. The caller then runs what is left of its range and of the worker's taken half.
  ThreadPool pool(2, /*pin=*/false);
  const int64_t count = 64;
  const auto caller = std::this_thread::get_id();
  std::atomic<int64_t> done{0};
  std::atomic<bool> worker_held{false};
  std::atomic<int64_t> held_chunk{0};
  std::atomic<bool> rest_taken{false};
  const auto wait_for = [](const auto& condition) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!condition() && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  };
  pool.parallel_for(count, [&](int64_t begin, int64_t end) {
    if (begin == 0) wait_for([&] { return worker_held.load(); });
    if (std::this_thread::get_id() != caller && begin < count / 2 && !worker_held.exchange(true)) {
      held_chunk = end - begin;
      wait_for([&] { return done.load() == count - (end - begin); });
      rest_taken = done.load() == count - (end - begin);
    }
    done += end - begin;
  });
  CHECK(worker_held);
  CHECK(held_chunk <= 3);  // a quarter of the 12 it took
  CHECK(rest_taken);
  CHECK(done == count);
}

TEST_CASE("workers that went to sleep between regions wake for the next one") {
  ThreadPool pool(3, /*pin=*/false);
  for (int round = 0; round < 4; ++round) {
    // Long enough for the workers to stop spinning and wait on the futex.
    std::this_thread::sleep_for(std::chrono::milliseconds(60));
    std::atomic<int> ran{0};
    pool.run([&](int, int) { ran++; });
    REQUIRE(ran.load() == 3);
  }
}

TEST_CASE("every region reaches every worker, spinning, on its way to sleep or asleep") {
  // Gaps between regions around the workers' spin before they sleep (tens of microseconds), so
  // that posts land in every phase of it; a post that a worker missed would hang the region.
  // Busy gaps, not sleeps: the test waits on nothing, it only spreads the posts out.
  ThreadPool pool(3, /*pin=*/false);
  for (int round = 0; round < 3000; ++round) {
    const auto gap = std::chrono::microseconds(round % 60 * 3);
    const auto until = std::chrono::steady_clock::now() + gap;
    while (std::chrono::steady_clock::now() < until) {
    }
    std::atomic<int> ran{0};
    pool.run([&](int, int) { ran++; });
    REQUIRE(ran.load() == 3);
  }
}

TEST_CASE("a pinned pool runs every thread, and so does one larger than the machine") {
  for (int threads : {0, 64}) {
    ThreadPool pool(threads);
    std::atomic<int> ran{0};
    pool.run([&](int, int) { ran++; });
    REQUIRE(ran.load() == pool.size());
  }
}
