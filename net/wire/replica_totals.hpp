#pragma once
// A node's replicas summed: what the router routes on and what /metrics reports.
#include <cstdint>
#include <vector>

#include "net/wire/messages.hpp"

namespace troupe::wire {

struct ReplicaTotals {
  int32_t running = 0;
  int32_t waiting = 0;
  int64_t kv_blocks_used = 0;
  int64_t kv_blocks_total = 0;
  int64_t preemptions = 0;
  int64_t prefix_cache_queries = 0;
  int64_t prefix_cache_hits = 0;
  double busy_seconds = 0;
  double queue_seconds = 0;
  int64_t queued_requests = 0;
  // The tensor-parallel ranks of the node's replicas, summed by rank; empty for one rank each.
  std::vector<parallel::RankStats> tensor_parallel_ranks;

  // Used KV blocks over all blocks, 0 for a node without replicas.
  double kv_usage() const {
    return kv_blocks_total > 0 ? double(kv_blocks_used) / double(kv_blocks_total) : 0.0;
  }
};

inline ReplicaTotals sum_replicas(const std::vector<ReplicaStats>& replicas) {
  ReplicaTotals t;
  for (const ReplicaStats& r : replicas) {
    t.running += r.running;
    t.waiting += r.waiting;
    t.kv_blocks_used += r.kv_blocks_used;
    t.kv_blocks_total += int64_t{r.kv_blocks_used} + r.kv_blocks_free;
    t.preemptions += r.preemptions;
    t.prefix_cache_queries += r.prefix_cache_queries;
    t.prefix_cache_hits += r.prefix_cache_hits;
    t.busy_seconds += r.busy_seconds;
    t.queue_seconds += r.queue_seconds;
    t.queued_requests += r.queued_requests;
    if (t.tensor_parallel_ranks.size() < r.tensor_parallel_ranks.size())
      t.tensor_parallel_ranks.resize(r.tensor_parallel_ranks.size());
    for (size_t i = 0; i < r.tensor_parallel_ranks.size(); ++i) {
      const parallel::RankStats& mine = r.tensor_parallel_ranks[i];
      parallel::RankStats& sum = t.tensor_parallel_ranks[i];
      sum.rank = mine.rank;
      sum.steps += mine.steps;
      sum.step_seconds += mine.step_seconds;
      sum.step_collective_seconds += mine.step_collective_seconds;
      sum.collectives.all_reduces += mine.collectives.all_reduces;
      sum.collectives.all_gathers += mine.collectives.all_gathers;
      sum.collectives.broadcasts += mine.collectives.broadcasts;
      sum.collectives.seconds += mine.collectives.seconds;
    }
  }
  return t;
}

}  // namespace troupe::wire
