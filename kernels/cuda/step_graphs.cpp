#include "kernels/cuda/step_graphs.hpp"

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
  if (graph.exec == nullptr || graph.version != version) {
    if (graph.exec) cudaGraphExecDestroy(std::exchange(graph.exec, nullptr));
    check(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal), "graph capture");
    cudaGraph_t captured = nullptr;
    try {
      record();
    } catch (...) {
      cudaStreamEndCapture(stream, &captured);  // ends the capture however it failed
      if (captured) cudaGraphDestroy(captured);
      throw;
    }
    check(cudaStreamEndCapture(stream, &captured), "graph capture");
    const cudaError_t made = cudaGraphInstantiate(&graph.exec, captured, 0);
    cudaGraphDestroy(captured);
    check(made, "cudaGraphInstantiate");
    graph.version = version;
    ++captures_;
  } else {
    ++replays_;
  }
  check(cudaGraphLaunch(graph.exec, stream), "cudaGraphLaunch");
}

}  // namespace troupe::cuda
