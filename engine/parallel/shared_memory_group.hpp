#pragma once
// A tensor-parallel group whose ranks are processes on one host, meeting in a POSIX shared-memory
// segment (as vLLM's CPU communicator does). Each rank has an arrival counter and a slot in each
// of two buffer sets; a collective writes this rank's part into its slot, waits until every rank
// has arrived, then reads the others' slots. Consecutive collectives use alternate sets, so a
// rank never overwrites a slot another may still read, and one barrier per collective suffices;
// data longer than a slot goes in slot-sized pieces. A wait spins briefly (the ranks of a step
// arrive within microseconds of each other), then sleeps on a futex in the segment. Every wait
// also watches the group's abort flag and asks `peer_gone` whether another rank's process has
// died: no rank waits on a dead one.
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

inline constexpr int kMaxSharedMemoryRanks = 64;

// Rank 0's side: a fresh segment for `size` ranks with slots of `slot_bytes`, under a new name
// (shared_memory_name() says which) that the other ranks join by. The name is removed when
// every rank has joined (release_name()) or when the communicator is destroyed.
Result<std::unique_ptr<Communicator>> create_shared_memory_group(int size, size_t slot_bytes,
                                                                 PeerCheck peer_gone);

// Another rank's side: joins the segment `name` as `rank`. Errors: no such segment, or one that
// is not a group's (bad size or layout).
Result<std::unique_ptr<Communicator>> join_shared_memory_group(const std::string& name, int rank,
                                                               PeerCheck peer_gone);

// The name a group created by create_shared_memory_group is joined by.
std::string shared_memory_name(const Communicator& group);
// Removes the name, so that nothing is left behind however the processes end (those mapped
// keep the segment).
void release_name(Communicator& group);

}  // namespace troupe::parallel
