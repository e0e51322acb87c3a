#include "engine/parallel/in_process_group.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <string>

namespace troupe::parallel {
namespace {

class InProcessCommunicator final : public Communicator {
 public:
  InProcessCommunicator(InProcessGroup& group, int rank) : group_(group), rank_(rank) {}
  int rank() const override { return rank_; }
  int size() const override { return group_.size(); }

  void all_reduce_sum(std::span<float> data) override {
    const Timer timer(stats_);
    ++stats_.all_reduces;
    publish(data.data());
    // Each rank sums every rank's buffer, in rank order, into its scratch; nobody writes a
    // published buffer until all have read them.
    scratch_.assign(data.size(), 0.0f);
    for (const void* published : group_.published()) {
      const auto* theirs = static_cast<const float*>(published);
      for (size_t i = 0; i < data.size(); ++i) scratch_[i] += theirs[i];
    }
    group_.arrive_and_wait();
    std::copy(scratch_.begin(), scratch_.end(), data.begin());
  }

  void all_gather(std::span<const float> mine, std::span<float> all) override {
    const Timer timer(stats_);
    ++stats_.all_gathers;
    publish(mine.data());
    for (int r = 0; r < size(); ++r)
      std::copy_n(static_cast<const float*>(group_.published()[r]), mine.size(),
                  all.begin() + r * mine.size());
    group_.arrive_and_wait();
  }

  void broadcast(std::span<std::byte> data, int root) override {
    const Timer timer(stats_);
    ++stats_.broadcasts;
    publish(data.data());
    // The root's buffer stays untouched until every rank has copied it.
    if (rank_ != root) std::memcpy(data.data(), group_.published()[root], data.size());
    group_.arrive_and_wait();
  }

  void barrier() override { group_.arrive_and_wait(); }
  void abort() override { group_.abort(); }

  CollectiveStats stats() const override { return stats_; }

 private:
  // Adds the wall time of one collective to the stats, whatever way it ends.
  struct Timer {
    explicit Timer(CollectiveStats& stats) : stats(stats) {}
    ~Timer() {
      stats.seconds +=
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
    CollectiveStats& stats;
    std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  };

  // Puts this rank's buffer where the others read it, and waits until every rank has.
  void publish(const void* buffer) {
    group_.published()[rank_] = buffer;
    group_.arrive_and_wait();
  }

  InProcessGroup& group_;
  const int rank_;
  std::vector<float> scratch_;
  CollectiveStats stats_;
};

}  // namespace

InProcessGroup::InProcessGroup(int size) : size_(size), published_(size, nullptr) {
  if (size < 1) throw std::invalid_argument("a group needs at least one rank");
}

std::unique_ptr<Communicator> InProcessGroup::communicator(int rank) {
  if (rank < 0 || rank >= size_)
    throw std::invalid_argument("rank " + std::to_string(rank) + " is not in a group of " +
                                std::to_string(size_));
  return std::make_unique<InProcessCommunicator>(*this, rank);
}

void InProcessGroup::abort() {
  {
    std::lock_guard lock(mutex_);
    aborted_ = true;
  }
  all_arrived_.notify_all();
}

void InProcessGroup::arrive_and_wait() {
  std::unique_lock lock(mutex_);
  if (aborted_) throw CollectiveAborted("the tensor-parallel group was aborted");
  const int64_t generation = generation_;
  if (++arrived_ == size_) {
    arrived_ = 0;
    ++generation_;
    all_arrived_.notify_all();
    return;
  }
  all_arrived_.wait(lock, [&] { return generation_ != generation || aborted_; });
  if (generation_ == generation) throw CollectiveAborted("the tensor-parallel group was aborted");
}

}  // namespace troupe::parallel
