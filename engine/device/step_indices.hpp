#pragma once
// A step's batch as a device's kernels read it, built on the host: per token its id, position,
// cache slot, where its sequence's block table starts and how many positions it attends to; the
// rows whose logits and final hidden states are wanted; every sequence's block table, flattened.
// Packed into one int32 array whose parts sit at offsets that depend only on capacities, so a
// CUDA graph, which replays the addresses it was captured with, reads each step's indices there.
#include <cstdint>
#include <span>
#include <vector>

#include "engine/device/forward_pass.hpp"

namespace troupe {

struct StepIndices {
  std::vector<int32_t> ids, positions, slots, table_start, lengths, logit_rows, hidden_rows;
  std::vector<int32_t> tables;
};

// Throws std::logic_error on a malformed batch (ForwardPass::forward's contract): an empty chunk,
// a block table short of its tokens, a block outside [0, blocks), a token outside the vocabulary.
StepIndices step_indices(std::span<const SequenceChunk> batch, int block_size, int blocks,
                         int vocab_size);

// Where each part of the packed array starts: six per-token parts of `tokens` entries (ids,
// slots, table starts, lengths, logit rows, hidden rows), then `tables` entries of block tables.
struct IndexLayout {
  int64_t tokens = 0;
  int64_t tables = 0;

  int64_t ids() const { return 0; }
  int64_t slots() const { return tokens; }
  int64_t table_start() const { return 2 * tokens; }
  int64_t lengths() const { return 3 * tokens; }
  int64_t logit_rows() const { return 4 * tokens; }
  int64_t hidden_rows() const { return 5 * tokens; }
  int64_t table_entries() const { return 6 * tokens; }
  int64_t size() const { return 6 * tokens + tables; }
  bool holds(const StepIndices& s) const {
    return static_cast<int64_t>(s.ids.size()) <= tokens &&
           static_cast<int64_t>(s.tables.size()) <= tables;
  }
};

// `s` packed into `out` (resized to layout.size(); unused entries are 0). layout.holds(s).
void pack(const StepIndices& s, const IndexLayout& layout, std::vector<int32_t>& out);

}  // namespace troupe
