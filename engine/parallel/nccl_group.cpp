#include "engine/parallel/nccl_group.hpp"

#include <chrono>
#include <cstring>
#include <string>

#ifdef TROUPE_HAVE_CUDA
#include "kernels/cuda/cuda_devices.hpp"
#endif
#ifdef TROUPE_HAVE_NCCL
#include "kernels/cuda/nccl_collectives.hpp"
#endif

namespace troupe::parallel {

int visible_cuda_devices(std::string* why_none) {
#ifdef TROUPE_HAVE_CUDA
  const CudaDevices found = cuda_devices();
  if (why_none) *why_none = found.error;
  return found.count;
#else
  if (why_none) *why_none = "this troupe was built without CUDA";
  return 0;
#endif
}

#ifndef TROUPE_HAVE_NCCL

bool nccl_built() {
  return false;
}

namespace {
Error no_nccl() {
  return make_error(
      "this troupe was built without NCCL (no CUDA toolkit with NCCL when it was configured)");
}
}  // namespace

Result<NcclGroupId> new_nccl_group_id() {
  return no_nccl();
}

Result<std::unique_ptr<Communicator>> join_nccl_group(const NcclGroupId&, int, int, int) {
  return no_nccl();
}

#else

bool nccl_built() {
  return true;
}

namespace {

class NcclCommunicator final : public Communicator {
 public:
  NcclCommunicator(std::unique_ptr<cuda::NcclComm> comm, int rank, int size)
      : comm_(std::move(comm)), rank_(rank), size_(size) {}

  int rank() const override { return rank_; }
  int size() const override { return size_; }

  void all_reduce_sum(std::span<float> data) override {
    const CollectiveTimer timer(stats_);
    ++stats_.all_reduces;
    check(comm_->all_reduce_sum(data.data(), data.size()));
  }
  void all_gather(std::span<const float> mine, std::span<float> all) override {
    const CollectiveTimer timer(stats_);
    ++stats_.all_gathers;
    check(comm_->all_gather(mine.data(), mine.size(), all.data()));
  }
  void broadcast(std::span<std::byte> data, int root) override {
    const CollectiveTimer timer(stats_);
    ++stats_.broadcasts;
    check(comm_->broadcast(data.data(), data.size(), root));
  }
  void barrier() override {
    float one = 1;
    check(comm_->all_reduce_sum(&one, 1));
  }
  void abort() override { comm_->abort(); }
  CollectiveStats stats() const override { return stats_; }

 private:
  static void check(const std::string& error) {
    if (!error.empty()) throw CollectiveAborted(error);
  }

  std::unique_ptr<cuda::NcclComm> comm_;
  int rank_;
  int size_;
  CollectiveStats stats_;
};

}  // namespace

Result<NcclGroupId> new_nccl_group_id() {
  cuda::NcclUniqueId raw;
  if (auto error = cuda::make_nccl_unique_id(raw); !error.empty()) return make_error(error);
  NcclGroupId id;
  std::memcpy(id.bytes.data(), raw.bytes, id.bytes.size());
  return id;
}

Result<std::unique_ptr<Communicator>> join_nccl_group(const NcclGroupId& id, int rank, int size,
                                                      int device) {
  std::string why;
  if (visible_cuda_devices(&why) <= device)
    return make_error("NCCL rank " + std::to_string(rank) + " needs CUDA device " +
                      std::to_string(device) + ", which is not visible" +
                      (why.empty() ? std::string() : " (" + why + ")"));
  cuda::NcclUniqueId raw;
  std::memcpy(raw.bytes, id.bytes.data(), id.bytes.size());
  std::string error;
  auto comm = cuda::NcclComm::join(raw, rank, size, device, error);
  if (!comm) return make_error("NCCL rank " + std::to_string(rank) + ": " + error);
  return std::unique_ptr<Communicator>(
      std::make_unique<NcclCommunicator>(std::move(comm), rank, size));
}

#endif

}  // namespace troupe::parallel
