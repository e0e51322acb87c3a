#include "engine/parallel/in_process_group.hpp"

#include <algorithm>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string>

namespace troupe::parallel {
namespace {

class HeapMemory final : public SlotMemory {
 public:
  explicit HeapMemory(size_t bytes) : base_(::operator new (bytes, std::align_val_t{64})) {}
  ~HeapMemory() override { ::operator delete (base_, std::align_val_t{64}); }
  void* base() const override { return base_; }

 private:
  void* base_;
};

}  // namespace

InProcessGroup::InProcessGroup(int size, size_t slot_bytes) : size_(size) {
  if (size < 1 || size > kMaxSlotRanks)
    throw std::invalid_argument("a group has 1 to " + std::to_string(kMaxSlotRanks) + " ranks");
  slot_bytes = std::max<size_t>(64, slot_bytes / 64 * 64);
  const size_t bytes = slot_group_bytes(size, slot_bytes);
  auto memory = std::make_shared<HeapMemory>(bytes);
  std::memset(memory->base(), 0, bytes);
  format_slot_group(memory->base(), size, slot_bytes);
  memory_ = std::move(memory);
}

std::unique_ptr<Communicator> InProcessGroup::communicator(int rank) {
  if (rank < 0 || rank >= size_)
    throw std::invalid_argument("rank " + std::to_string(rank) + " is not in a group of " +
                                std::to_string(size_));
  return slot_communicator(memory_, rank);
}

void InProcessGroup::abort() {
  abort_slot_group(memory_->base());
}

}  // namespace troupe::parallel
