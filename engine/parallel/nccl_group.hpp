#pragma once
// A tensor-parallel group over NCCL, one rank per CUDA device (NCCL refuses two ranks of one
// communicator on the same device). Rank 0 makes the group's id and hands it to the others by
// another channel (the shared-memory group's broadcast, or a message); each joins with it. The
// collectives take host buffers for now (copied to the device and back: the CPU pass's), and
// the CUDA backend will hand device ones. Built with the CUDA toolkit's NCCL; a build without
// it answers every call with one line saying so.
#include <array>
#include <memory>

#include "engine/parallel/communicator.hpp"
#include "engine/result.hpp"

namespace troupe::parallel {

struct NcclGroupId {
  std::array<unsigned char, 128> bytes{};
};

// Whether this build has NCCL.
bool nccl_built();
// The CUDA devices this process sees (0 in a build without CUDA, or on a machine without them),
// and the runtime's reason when none.
int visible_cuda_devices(std::string* why_none = nullptr);

Result<NcclGroupId> new_nccl_group_id();

// Joins the group `id` names as `rank` of `size` on CUDA device `device`; blocks until every
// rank has joined. Collectives that fail throw CollectiveAborted with NCCL's message.
Result<std::unique_ptr<Communicator>> join_nccl_group(const NcclGroupId& id, int rank, int size,
                                                      int device);

}  // namespace troupe::parallel
