#pragma once
// How tensor-parallel ranks combine partial results: an all-reduce over the ranks of a group.
// NCCL implements it on GPUs; on the CPU a replica is one rank today, and its group of one
// leaves every buffer as it is.
#include <cstdint>

namespace troupe {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // data[i] = sum over ranks of data[i], on every rank.
  virtual void all_reduce_sum(float* data, int64_t count) = 0;
};

// The group of one rank: all-reduce is the identity.
class SingleRankCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void all_reduce_sum(float*, int64_t) override {}
};

}  // namespace troupe
