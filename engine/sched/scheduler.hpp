#pragma once
// The scheduling policy of continuous batching, over plain state: which tokens of which
// sequences the next step computes, within a token budget and the KV blocks there are.
//
// Each step: running sequences that decode come first, then running sequences part-way through
// their prompt (chunked prefill), then waiting sequences in (priority, arrival) order, with
// prefix-cache hits skipping the prompt blocks already cached. When blocks run out, the running
// sequence served last (lowest priority, newest) is preempted: its blocks are freed and it
// waits to be recomputed. A step that preempted admits nobody new.
#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "engine/kv/block_pool.hpp"
#include "engine/sched/sequence.hpp"

namespace troupe {

struct SchedulerConfig {
  int max_num_batched_tokens = 2048;   // tokens one step may compute (engine config: 0, default)
  int max_num_seqs = 256;              // sequences running at once
  bool enable_chunked_prefill = true;  // else a prompt is computed in one step or waits
};

// Compute tokens [start, start + length) of a sequence. `samples`: the chunk reaches the end of
// the sequence's tokens, so its last logits give the next token.
struct ScheduledChunk {
  SequenceId id = 0;
  int start = 0;
  int length = 0;
  bool samples = false;
};

// Copy-on-write: before the step, block `to` must receive block `from`'s K/V.
struct BlockCopy {
  int32_t from = 0;
  int32_t to = 0;
  bool operator==(const BlockCopy&) const = default;
};

struct SchedulePlan {
  std::vector<ScheduledChunk> chunks;
  std::vector<BlockCopy> copies;
  std::vector<SequenceId> preempted;
  int tokens = 0;
};

struct PrefixCacheCounters {
  int64_t queried_tokens = 0;  // prompt tokens looked up on admission
  int64_t hit_tokens = 0;      // of those, found cached
};

class Scheduler {
 public:
  Scheduler(SchedulerConfig config, BlockPool& pool);

  // A new sequence joins the waiting queue. Its id must be unused.
  void add(SequenceId id, std::vector<int32_t> tokens, int priority,
           bool reuses_cached_prefix = true);
  // A copy of a running sequence that shares its blocks (parallel sampling): copy-on-write
  // happens when either writes into a shared partly filled block.
  void fork(SequenceId parent, SequenceId child);
  // Removes a sequence wherever it is; its blocks return to the pool at once.
  bool remove(SequenceId id);

  SchedulePlan schedule();
  // The plan's chunks were computed: advances them and caches their newly full blocks.
  void complete(const SchedulePlan& plan);
  void append_token(SequenceId id, int32_t token);

  const Sequence* find(SequenceId id) const;
  int running() const { return static_cast<int>(running_.size()); }
  int waiting() const { return static_cast<int>(waiting_.size()); }
  int64_t preemptions() const { return preemptions_; }
  const PrefixCacheCounters& prefix_cache() const { return prefix_cache_; }

 private:
  Sequence& at(SequenceId id);
  int blocks_for(int tokens) const;
  // Gives `seq` the blocks for computing `length` more tokens (copy-on-write included), or
  // returns false having changed nothing.
  bool reserve(Sequence& seq, int length, SchedulePlan& plan);
  void free_blocks(Sequence& seq);
  // Frees a running sequence's blocks and sends it back to wait; undoes its part of `plan`.
  void preempt(Sequence& seq, int& budget, SchedulePlan& plan);
  void insert_in_service_order(std::vector<SequenceId>& queue, SequenceId id);
  void enqueue_waiting(SequenceId id);
  void insert_running(SequenceId id);
  // Prefix-cache hits for a waiting sequence with nothing computed: the cached blocks, in order.
  std::vector<int32_t> cached_prefix(const Sequence& seq, std::vector<BlockHash>& hashes) const;
  bool admit(Sequence& seq, int& budget, SchedulePlan& plan);
  void schedule_running(Sequence& seq, int length, int& budget, SchedulePlan& plan);

  SchedulerConfig config_;
  BlockPool& pool_;
  std::map<SequenceId, Sequence> sequences_;
  std::vector<SequenceId> running_;  // in service order: (priority, arrival)
  std::vector<SequenceId> waiting_;  // in service order: (priority, arrival)
  int64_t next_arrival_ = 0;
  int64_t preemptions_ = 0;
  PrefixCacheCounters prefix_cache_;
};

}  // namespace troupe
