#pragma once
// The batching engine in one process: a StepPlanner and a ModelRunner joined by reference.
// add_request() queues a request, step() plans, runs one forward over every token picked —
// prefill chunks and decodes of many sequences together — samples, and reports the tokens.
// `troupe generate`, `troupe bench offline` and the tests drive it; the actors drive the two
// halves separately.
#include <memory>
#include <string>
#include <vector>

#include "engine/serve/model_runner.hpp"
#include "engine/serve/step_planner.hpp"

namespace troupe {

class Engine {
 public:
  using EndOfGeneration = StepPlanner::EndOfGeneration;

  // A forward pass of its own over `model`'s weights on `device`; `model` must outlive it.
  // Errors: the config's, e.g. a KV budget too small for one full-length sequence; the device's.
  static Result<std::unique_ptr<Engine>> create(const Model& model, EngineConfig config,
                                                EndOfGeneration is_end_of_generation,
                                                const DeviceOptions& device = {}) {
    auto planner =
        StepPlanner::create(model.config, std::move(config), std::move(is_end_of_generation),
                            device.tensor_parallel_size);
    if (!planner) return planner.error();
    auto runner =
        make_model_runner(model, device,
                          KvShape{(*planner)->kv_blocks(), (*planner)->config().block_size,
                                  (*planner)->config().prefault_kv_cache});
    if (!runner) return runner.error();
    return std::unique_ptr<Engine>(new Engine(std::move(*planner), std::move(*runner)));
  }

  const EngineConfig& config() const { return planner_->config(); }
  Status add_request(const std::string& id, std::vector<int32_t> prompt, SamplingParams params,
                     int priority = 0) {
    return planner_->add_request(id, std::move(prompt), std::move(params), priority);
  }
  bool abort(const std::string& id) { return planner_->abort(id); }
  bool stop_sample(const std::string& id, int index) { return planner_->stop_sample(id, index); }
  // Runs one step; its updates are empty when there is nothing to run.
  StepOutput step() { return planner_->complete(runner_->execute(planner_->plan())); }

  bool has_unfinished() const { return planner_->has_unfinished(); }
  EngineStats stats() const { return planner_->stats(); }
  // A tensor-parallel group's ranks' totals (ModelRunner::rank_stats); empty for one rank.
  std::vector<parallel::RankStats> rank_stats() { return runner_->rank_stats(); }
  // Blocks until the KV cache's pages are faulted in (ForwardPass::wait_kv_faulted).
  void wait_kv_faulted() { runner_->wait_kv_faulted(); }

 private:
  Engine(std::unique_ptr<StepPlanner> planner, std::unique_ptr<ModelRunner> runner)
      : planner_(std::move(planner)), runner_(std::move(runner)) {}

  std::unique_ptr<StepPlanner> planner_;
  std::unique_ptr<ModelRunner> runner_;
};

}  // namespace troupe
