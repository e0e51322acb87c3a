#pragma once
// NCCL collectives over host buffers, for a rank on CUDA device `device` (built only with CUDA
// and NCCL): each call copies the rank's data to the device, runs the collective on the rank's
// stream, and copies the result back. The CPU forward pass hands host buffers; the CUDA
// backend will hand device ones. Errors come back as text: NCCL's or the runtime's message.
#include <cstddef>
#include <memory>
#include <string>

namespace troupe::cuda {

// ncclUniqueId's bytes: rank 0 makes it, the others get it by another channel (the group's
// shared memory, or a message).
struct NcclUniqueId {
  unsigned char bytes[128] = {};
};

// The id, or the error.
std::string make_nccl_unique_id(NcclUniqueId& id);

class NcclComm {
 public:
  // Joins the communicator `id` names as `rank` of `size` on `device`; blocks until every rank
  // has joined. nullptr and `error` set when it cannot.
  static std::unique_ptr<NcclComm> join(const NcclUniqueId& id, int rank, int size, int device,
                                        std::string& error);
  ~NcclComm();
  NcclComm(const NcclComm&) = delete;
  NcclComm& operator=(const NcclComm&) = delete;

  // Each returns "" or the error.
  std::string all_reduce_sum(float* data, size_t count);
  std::string all_gather(const float* mine, size_t count, float* all);
  std::string broadcast(void* data, size_t bytes, int root);
  // Ends the communicator's pending work on every rank it can reach (ncclCommAbort).
  void abort();

 private:
  struct Impl;
  explicit NcclComm(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace troupe::cuda
