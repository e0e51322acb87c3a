#pragma once
// A tensor-parallel group whose ranks are processes on one host, meeting in a POSIX shared-memory
// segment with the slot collectives (slot_collectives.hpp). Rank 0 creates the segment under a
// fresh name; the others join by that name; the name is removed once all have joined, so nothing
// is left behind however the processes end.
#include <cstddef>
#include <memory>
#include <string>

#include "engine/parallel/slot_collectives.hpp"

namespace troupe::parallel {

// Rank 0's side: a fresh segment for `size` ranks with slots of `slot_bytes`.
Result<std::unique_ptr<Communicator>> create_shared_memory_group(int size, size_t slot_bytes,
                                                                 PeerCheck peer_gone);

// Another rank's side: joins the segment `name` as `rank`. Errors: no such segment, or one that
// is not a group's (bad size or layout, no such rank).
Result<std::unique_ptr<Communicator>> join_shared_memory_group(const std::string& name, int rank,
                                                               PeerCheck peer_gone);

// The name the group of a communicator of this kind is joined by.
std::string shared_memory_name(Communicator& group);
// Removes the name (those that mapped the segment keep it).
void release_name(Communicator& group);

}  // namespace troupe::parallel
