#pragma once
// A fixed team of threads that runs one parallel region at a time. The calling thread takes part
// as thread 0. Workers spin briefly between regions (a forward pass issues hundreds of short
// regions back to back) and then sleep, so an idle pool costs no CPU.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace troupe {

class ThreadPool {
 public:
  // `threads` counts the caller; 0 means every hardware thread.
  explicit ThreadPool(int threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return size_; }

  // Runs fn(thread_index, size()) on every thread and returns when all are done.
  void run(const std::function<void(int, int)>& fn);

  // Splits [0, count) into contiguous chunks that the threads take in turn: fn(begin, end).
  void parallel_for(int64_t count, const std::function<void(int64_t, int64_t)>& fn);

 private:
  void worker_loop(int index);

  int size_;
  std::vector<std::thread> workers_;
  const std::function<void(int, int)>* task_ = nullptr;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
};

}  // namespace troupe
