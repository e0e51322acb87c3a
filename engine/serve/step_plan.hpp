#pragma once
// What crosses between the engine's two halves each step, as plain data: the StepPlanner (the
// scheduling side: requests, KV bookkeeping, finish rules) sends a StepPlan, the ModelRunner (the
// compute side: model, KV memory, samplers) answers with a StepResult. In one process the Engine
// passes them by reference; the scheduler and worker actors pass them as messages.
#include <cstdint>
#include <vector>

#include "engine/parallel/communicator.hpp"
#include "engine/sample/sampler.hpp"
#include "engine/sample/sampling_params.hpp"
#include "engine/sched/scheduler.hpp"

namespace troupe {

// A sequence the runner must know before it samples for it: its sampling parameters (the seed
// already made its own) and its prompt, for the penalties.
struct NewSequence {
  SequenceId id = 0;
  SamplingParams params;
  std::vector<int32_t> prompt;
  bool operator==(const NewSequence&) const = default;
};

// Tokens [start, start + tokens.size()) of one sequence, through its block table. When
// `samplers` is not empty, the logits after the last token are sampled once for each of them,
// in order (a request's n samples share its prompt's last logits).
struct ChunkWork {
  SequenceId id = 0;
  int32_t start = 0;
  std::vector<int32_t> tokens;
  std::vector<int32_t> block_table;
  std::vector<SequenceId> samplers;
  bool operator==(const ChunkWork&) const = default;
};

struct StepPlan {
  std::vector<NewSequence> added;    // before anything else
  std::vector<SequenceId> released;  // finished or aborted: the runner forgets them
  std::vector<BlockCopy> copies;     // copy-on-write of shared partial blocks, before the forward
  std::vector<ChunkWork> chunks;     // one forward over all of them
  bool operator==(const StepPlan&) const = default;
};

// A sampled token; or, for an embedding sequence at its prompt's end, its pooled vector.
struct SequenceSample {
  SequenceId id = 0;
  SampledToken token;
  std::vector<float> embedding;
  bool operator==(const SequenceSample&) const = default;
};

// One sample per entry of the chunks' samplers: the embeddings, then the tokens in plan order.
struct StepResult {
  std::vector<SequenceSample> samples;
  // A tensor-parallel group's ranks' totals, in rank order, when the worker collected them with
  // this step (now and then, for the metrics); empty otherwise.
  std::vector<parallel::RankStats> ranks;
  bool operator==(const StepResult&) const = default;
};

}  // namespace troupe
