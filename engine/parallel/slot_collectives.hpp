#pragma once
// The collectives of a group whose ranks share one block of memory: threads of one process
// (in_process_group.hpp) or processes that map the same POSIX shared memory
// (shared_memory_group.hpp), as vLLM's CPU communicator does. The block holds a header (each
// rank's arrival counter, an abort flag, a futex word) and, per rank, a slot in each of two
// buffer sets. A collective writes this rank's part into its slot, waits until every rank has
// arrived, then reads the others' slots. Consecutive collectives use alternate sets, so a rank
// never overwrites a slot another may still read and one barrier per collective suffices; data
// longer than a slot goes in slot-sized pieces. A wait spins briefly (the ranks of a step
// arrive within microseconds of each other, and waking a sleeper costs more than a collective),
// then sleeps on the futex word. Every wait watches the abort flag and asks `peer_gone` whether
// another rank's process has died: no rank waits on a dead one.
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "engine/parallel/communicator.hpp"
#include "engine/result.hpp"

namespace troupe::parallel {

// Why another rank of the group is gone (its process exited), or nothing while all are there.
using PeerCheck = std::function<std::optional<std::string>()>;

inline constexpr int kMaxSlotRanks = 64;

// The block of memory a group's ranks share; the derived class owns it (heap or mapping).
class SlotMemory {
 public:
  virtual ~SlotMemory() = default;
  virtual void* base() const = 0;
};

// The bytes a group of `size` ranks with slots of `slot_bytes` needs.
size_t slot_group_bytes(int size, size_t slot_bytes);
// Lays out a fresh group in `base` (slot_group_bytes of zeroed memory).
void format_slot_group(void* base, int size, size_t slot_bytes);
// Whether `bytes` at `base` hold a group laid out by format_slot_group that has a rank `rank`.
Status check_slot_group(const void* base, size_t bytes, int rank);

// Rank `rank`'s communicator over `memory`, which it keeps alive.
std::unique_ptr<Communicator> slot_communicator(std::shared_ptr<SlotMemory> memory, int rank,
                                                PeerCheck peer_gone = {});
// The memory a slot communicator works in (std::bad_cast for another kind of communicator).
SlotMemory& slot_memory(Communicator& communicator);
// Ends every wait of the group in `base`, present and future, with CollectiveAborted.
void abort_slot_group(void* base);

}  // namespace troupe::parallel
