#pragma once
// CUDA graphs for repeated steps: the kernels a step queues on a stream are captured once per
// shape (a key: for a decode step, its token and logit-row counts) and replayed as one launch
// afterwards, so a small model's hundreds of kernel launches a step cost one. A graph holds the
// addresses and sizes it was captured with: the caller bumps `version` whenever a buffer the step
// uses moves, and graphs of an older version are captured again.
#include <cuda_runtime_api.h>

#include <cstdint>
#include <functional>
#include <map>

namespace troupe::cuda {

class StepGraphs {
 public:
  StepGraphs() = default;
  StepGraphs(const StepGraphs&) = delete;
  StepGraphs& operator=(const StepGraphs&) = delete;
  ~StepGraphs();

  // Queues the step on `stream`: the graph of `key` at `version`, captured from `record` (which
  // must only queue work on `stream`) at the second step of that key and version (the first runs
  // eagerly). A capture the driver refuses turns graphs off for good, saying so once on stderr.
  // Throws CudaError.
  void run(cudaStream_t stream, int key, uint64_t version, const std::function<void()>& record);

  int64_t captures() const { return captures_; }
  int64_t replays() const { return replays_; }

 private:
  struct Captured {
    cudaGraphExec_t exec = nullptr;
    uint64_t version = 0;
    bool warmed = false;  // ran eagerly once at `version`
  };
  std::map<int, Captured> graphs_;
  bool failed_ = false;
  int64_t captures_ = 0, replays_ = 0;
};

}  // namespace troupe::cuda
