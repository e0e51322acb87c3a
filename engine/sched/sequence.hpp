#pragma once
// One sequence as the scheduler sees it: plain data, no model and no threads.
#include <cstdint>
#include <vector>

#include "engine/kv/block_hash.hpp"

namespace troupe {

using SequenceId = int64_t;

enum class SequenceStatus { waiting, running };

struct Sequence {
  SequenceId id = 0;
  int priority = 0;             // lower is served first (vLLM's convention); 0 for plain FCFS
  int64_t arrival = 0;          // admission order: the FCFS tie-break
  std::vector<int32_t> tokens;  // the prompt, then the generated tokens
  int prompt_length = 0;
  int computed = 0;  // leading tokens whose K/V are in the cache
  std::vector<int32_t> block_table;
  std::vector<BlockHash> full_block_hashes;  // prefix-cache keys of the leading full blocks
  SequenceStatus status = SequenceStatus::waiting;
  int preemptions = 0;
  // False: every prompt token runs through the model, cached or not (an embedding's mean pools
  // every token's hidden state).
  bool reuses_cached_prefix = true;

  int uncomputed() const { return static_cast<int>(tokens.size()) - computed; }
};

}  // namespace troupe
