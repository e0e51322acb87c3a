#include "kernels/cuda/step_graphs.hpp"

#include <cstdio>
#include <utility>

#include "kernels/cuda/cuda_check.hpp"

namespace troupe::cuda {

StepGraphs::~StepGraphs() {
  for (auto& [key, graph] : graphs_)
    if (graph.exec) cudaGraphExecDestroy(graph.exec);
}

void StepGraphs::run(cudaStream_t stream, int key, uint64_t version,
                     const std::function<void()>& record) {
  Captured& graph = graphs_[key];
  if (failed_) return record();
  if (graph.exec != nullptr && graph.version == version) {
    ++replays_;
    check(cudaGraphLaunch(graph.exec, stream), "cudaGraphLaunch");
    return;
  }
  if (graph.exec) cudaGraphExecDestroy(std::exchange(graph.exec, nullptr));
  if (!graph.warmed || graph.version != version) {
    // A shape's first step runs eagerly: its kernels load (lazily, since CUDA 12.2) outside a
    // capture, where older drivers refuse to load them.
    graph.warmed = true;
    graph.version = version;
    return record();
  }
  check(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal), "graph capture");
  cudaGraph_t captured = nullptr;
  try {
    record();
  } catch (...) {
    cudaStreamEndCapture(stream, &captured);  // ends the capture however it failed
    if (captured) cudaGraphDestroy(captured);
    throw;
  }
  const cudaError_t ended = cudaStreamEndCapture(stream, &captured);
  cudaGraphExec_t exec = nullptr;
  const cudaError_t made = ended == cudaSuccess ? cudaGraphInstantiate(&exec, captured, 0) : ended;
  if (captured) cudaGraphDestroy(captured);
  if (made != cudaSuccess) {
    // Nothing of the step ran: run it eagerly, and every later one too.
    cudaGetLastError();
    failed_ = true;
    std::fprintf(stderr, "troupe: CUDA graphs are off: %s\n", cudaGetErrorString(made));
    return record();
  }
  graph.exec = exec;
  ++captures_;
  check(cudaGraphLaunch(graph.exec, stream), "cudaGraphLaunch");
}

}  // namespace troupe::cuda
