#include "kernels/cuda/nccl_collectives.hpp"

#include <cuda_runtime_api.h>
#include <nccl.h>

#include <algorithm>
#include <cstring>

namespace troupe::cuda {
namespace {

std::string nccl_error(const char* call, ncclResult_t result) {
  return std::string(call) + ": " + ncclGetErrorString(result);
}

std::string cuda_error(const char* call, cudaError_t result) {
  return std::string(call) + ": " + cudaGetErrorString(result);
}

}  // namespace

struct NcclComm::Impl {
  ncclComm_t comm = nullptr;
  cudaStream_t stream = nullptr;
  int device = 0;
  int size = 1;
  void* scratch = nullptr;  // device memory, grown on demand
  size_t scratch_bytes = 0;

  std::string ensure_scratch(size_t bytes) {
    if (bytes <= scratch_bytes) return {};
    if (scratch) cudaFree(scratch);
    scratch = nullptr;
    scratch_bytes = 0;
    if (auto r = cudaMalloc(&scratch, bytes); r != cudaSuccess) return cuda_error("cudaMalloc", r);
    scratch_bytes = bytes;
    return {};
  }

  // Host -> device, the collective, device -> host, then waits for the stream.
  template <typename Collective>
  std::string run(const void* in, size_t in_bytes, void* out, size_t out_bytes,
                  Collective&& collective) {
    if (auto r = cudaSetDevice(device); r != cudaSuccess) return cuda_error("cudaSetDevice", r);
    if (auto e = ensure_scratch(std::max(in_bytes, out_bytes)); !e.empty()) return e;
    if (in_bytes > 0) {
      if (auto r = cudaMemcpyAsync(scratch, in, in_bytes, cudaMemcpyHostToDevice, stream);
          r != cudaSuccess)
        return cuda_error("cudaMemcpyAsync", r);
    }
    if (auto r = collective(); r != ncclSuccess) return nccl_error("nccl collective", r);
    if (auto r = cudaMemcpyAsync(out, scratch, out_bytes, cudaMemcpyDeviceToHost, stream);
        r != cudaSuccess)
      return cuda_error("cudaMemcpyAsync", r);
    if (auto r = cudaStreamSynchronize(stream); r != cudaSuccess)
      return cuda_error("cudaStreamSynchronize", r);
    return {};
  }
};

std::string make_nccl_unique_id(NcclUniqueId& id) {
  static_assert(sizeof(ncclUniqueId) == sizeof(NcclUniqueId::bytes));
  ncclUniqueId raw;
  if (auto r = ncclGetUniqueId(&raw); r != ncclSuccess) return nccl_error("ncclGetUniqueId", r);
  std::memcpy(id.bytes, &raw, sizeof raw);
  return {};
}

NcclComm::NcclComm(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

NcclComm::~NcclComm() {
  if (!impl_) return;
  cudaSetDevice(impl_->device);
  if (impl_->comm) ncclCommDestroy(impl_->comm);
  if (impl_->stream) cudaStreamDestroy(impl_->stream);
  if (impl_->scratch) cudaFree(impl_->scratch);
}

std::unique_ptr<NcclComm> NcclComm::join(const NcclUniqueId& id, int rank, int size, int device,
                                         std::string& error) {
  auto impl = std::make_unique<Impl>();
  impl->device = device;
  impl->size = size;
  if (auto r = cudaSetDevice(device); r != cudaSuccess) {
    error = cuda_error("cudaSetDevice", r);
    return nullptr;
  }
  if (auto r = cudaStreamCreate(&impl->stream); r != cudaSuccess) {
    error = cuda_error("cudaStreamCreate", r);
    return nullptr;
  }
  ncclUniqueId raw;
  std::memcpy(&raw, id.bytes, sizeof raw);
  if (auto r = ncclCommInitRank(&impl->comm, size, raw, rank); r != ncclSuccess) {
    error = nccl_error("ncclCommInitRank", r);
    cudaStreamDestroy(impl->stream);
    impl->stream = nullptr;
    impl->comm = nullptr;
    return nullptr;
  }
  return std::unique_ptr<NcclComm>(new NcclComm(std::move(impl)));
}

std::string NcclComm::all_reduce_sum(float* data, size_t count) {
  Impl& i = *impl_;
  const size_t bytes = count * sizeof(float);
  return i.run(data, bytes, data, bytes, [&] {
    return ncclAllReduce(i.scratch, i.scratch, count, ncclFloat32, ncclSum, i.comm, i.stream);
  });
}

std::string NcclComm::all_gather(const float* mine, size_t count, float* all) {
  Impl& i = *impl_;
  const size_t bytes = count * sizeof(float);
  // The rank's part goes to its place in the gathered buffer (NCCL's in-place all-gather).
  return i.run(nullptr, 0, all, bytes * i.size, [&]() -> ncclResult_t {
    int rank = 0;
    ncclCommUserRank(i.comm, &rank);
    auto* place = static_cast<char*>(i.scratch) + bytes * rank;
    if (cudaMemcpyAsync(place, mine, bytes, cudaMemcpyHostToDevice, i.stream) != cudaSuccess)
      return ncclUnhandledCudaError;
    return ncclAllGather(place, i.scratch, count, ncclFloat32, i.comm, i.stream);
  });
}

std::string NcclComm::broadcast(void* data, size_t bytes, int root) {
  Impl& i = *impl_;
  return i.run(data, bytes, data, bytes, [&] {
    return ncclBroadcast(i.scratch, i.scratch, bytes, ncclUint8, root, i.comm, i.stream);
  });
}

void NcclComm::abort() {
  if (impl_ && impl_->comm) {
    ncclCommAbort(impl_->comm);
    impl_->comm = nullptr;
  }
}

}  // namespace troupe::cuda
