#pragma once
// The collective operations the ranks of a tensor-parallel group share one forward pass through
// (Megatron's layout: two all-reduces per layer, a gather of the vocabulary-parallel logits).
// Every rank of a group calls the same operations in the same order, with buffers of the same
// length; each call returns on a rank once every rank has made it. Implementations: in-process
// (ranks that are threads of one process: in_process_group.hpp); shared memory across processes
// and NCCL come with the tensor-parallel issue.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>

namespace troupe::parallel {

// What /metrics reports per rank: collectives and the time spent in them (waiting included).
struct CollectiveStats {
  int64_t all_reduces = 0;
  int64_t all_gathers = 0;
  int64_t broadcasts = 0;
  double seconds = 0;
  bool operator==(const CollectiveStats&) const = default;
};

// One rank's totals since its group started: forward passes, the time in them, the part of it
// spent in the passes' collectives (waiting for the other ranks included), and all its
// collectives (a follower's wait for the next command is a broadcast too: idle time).
struct RankStats {
  int32_t rank = 0;
  int64_t steps = 0;
  double step_seconds = 0;
  double step_collective_seconds = 0;
  CollectiveStats collectives;
  bool operator==(const RankStats&) const = default;
};

// What a collective throws once its group is aborted: a rank failed or left, so no rank waits
// for it forever.
struct CollectiveAborted : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Adds the wall time of one collective to `stats`, whatever way it ends (an implementation's
// helper).
class CollectiveTimer {
 public:
  explicit CollectiveTimer(CollectiveStats& stats) : stats_(stats) {}
  ~CollectiveTimer() {
    stats_.seconds +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }
  CollectiveTimer(const CollectiveTimer&) = delete;
  CollectiveTimer& operator=(const CollectiveTimer&) = delete;

 private:
  CollectiveStats& stats_;
  const std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;

  // Sums `data` element-wise over the ranks, in place. The sum is taken in rank order, so every
  // rank ends with bit-identical values.
  virtual void all_reduce_sum(std::span<float> data) = 0;
  // Every rank's `mine` (the same length on each), in rank order, into `all` (size() times as
  // long).
  virtual void all_gather(std::span<const float> mine, std::span<float> all) = 0;
  // Rank `root`'s `data` into every rank's (raw bytes: a step's command, not only floats).
  virtual void broadcast(std::span<std::byte> data, int root) = 0;
  virtual void barrier() = 0;
  // This rank gives up (its own work failed): every rank's waits, present and future, end with
  // CollectiveAborted.
  virtual void abort() = 0;

  virtual CollectiveStats stats() const = 0;
};

}  // namespace troupe::parallel
