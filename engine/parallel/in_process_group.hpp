#pragma once
// A tensor-parallel group whose ranks are threads of one process: the slot collectives
// (slot_collectives.hpp) over a block of this process's memory. Each thread takes its rank's
// Communicator; abort() (a rank failed) ends every wait, present and future, with
// CollectiveAborted: no rank of a broken group hangs.
#include <cstddef>
#include <memory>

#include "engine/parallel/slot_collectives.hpp"

namespace troupe::parallel {

class InProcessGroup {
 public:
  // Throws std::invalid_argument for fewer than 1 or more than kMaxSlotRanks ranks.
  explicit InProcessGroup(int size, size_t slot_bytes = size_t{4} << 20);
  int size() const { return size_; }
  // Rank `rank`'s communicator (it keeps the group's memory alive).
  std::unique_ptr<Communicator> communicator(int rank);
  void abort();

 private:
  const int size_;
  std::shared_ptr<SlotMemory> memory_;
};

}  // namespace troupe::parallel
