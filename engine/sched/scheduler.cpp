#include "engine/sched/scheduler.hpp"

#include <algorithm>
#include <stdexcept>
#include <tuple>

namespace troupe {
namespace {

auto service_key(const Sequence& seq) {
  return std::tuple(seq.priority, seq.arrival, seq.id);
}

}  // namespace

Scheduler::Scheduler(SchedulerConfig config, BlockPool& pool) : config_(config), pool_(pool) {}

Sequence& Scheduler::at(SequenceId id) {
  auto it = sequences_.find(id);
  if (it == sequences_.end()) throw std::logic_error("Scheduler: unknown sequence");
  return it->second;
}

const Sequence* Scheduler::find(SequenceId id) const {
  auto it = sequences_.find(id);
  return it == sequences_.end() ? nullptr : &it->second;
}

int Scheduler::blocks_for(int tokens) const {
  return (tokens + pool_.block_size() - 1) / pool_.block_size();
}

void Scheduler::insert_in_service_order(std::vector<SequenceId>& queue, SequenceId id) {
  const auto key = service_key(at(id));
  auto pos = std::lower_bound(queue.begin(), queue.end(), key,
                              [&](SequenceId other, auto k) { return service_key(at(other)) < k; });
  queue.insert(pos, id);
}

void Scheduler::enqueue_waiting(SequenceId id) {
  insert_in_service_order(waiting_, id);
  at(id).status = SequenceStatus::waiting;
}

void Scheduler::insert_running(SequenceId id) {
  insert_in_service_order(running_, id);
  at(id).status = SequenceStatus::running;
}

void Scheduler::add(SequenceId id, std::vector<int32_t> tokens, int priority,
                    bool reuses_cached_prefix) {
  if (sequences_.count(id)) throw std::logic_error("Scheduler::add: sequence id in use");
  Sequence seq;
  seq.id = id;
  seq.reuses_cached_prefix = reuses_cached_prefix;
  seq.priority = priority;
  seq.arrival = next_arrival_++;
  seq.prompt_length = static_cast<int>(tokens.size());
  seq.tokens = std::move(tokens);
  sequences_.emplace(id, std::move(seq));
  enqueue_waiting(id);
}

void Scheduler::fork(SequenceId parent, SequenceId child) {
  if (sequences_.count(child)) throw std::logic_error("Scheduler::fork: sequence id in use");
  Sequence copy = at(parent);
  if (copy.status != SequenceStatus::running)
    throw std::logic_error("Scheduler::fork: not running");
  copy.id = child;
  copy.preemptions = 0;
  for (int32_t block : copy.block_table) pool_.retain(block);
  sequences_.emplace(child, std::move(copy));
  insert_running(child);
}

void Scheduler::free_blocks(Sequence& seq) {
  // Tail blocks first, so they are the first evicted: a prefix's head is the most shared part.
  for (auto it = seq.block_table.rbegin(); it != seq.block_table.rend(); ++it) pool_.release(*it);
  seq.block_table.clear();
  seq.full_block_hashes.clear();
  seq.computed = 0;
}

bool Scheduler::remove(SequenceId id) {
  auto it = sequences_.find(id);
  if (it == sequences_.end()) return false;
  free_blocks(it->second);
  auto& queue = it->second.status == SequenceStatus::running ? running_ : waiting_;
  queue.erase(std::find(queue.begin(), queue.end(), id));
  sequences_.erase(it);
  return true;
}

bool Scheduler::reserve(Sequence& seq, int length, SchedulePlan& plan) {
  const int block_size = pool_.block_size();
  const bool copy_on_write =
      seq.computed % block_size != 0 && pool_.ref_count(seq.block_table.back()) > 1;
  const int new_blocks =
      std::max(0, blocks_for(seq.computed + length) - static_cast<int>(seq.block_table.size()));
  if (new_blocks + (copy_on_write ? 1 : 0) > pool_.free_blocks()) return false;
  if (copy_on_write) {
    const int32_t shared = seq.block_table.back();
    const int32_t own = *pool_.allocate();
    plan.copies.push_back({shared, own});
    pool_.release(shared);
    seq.block_table.back() = own;
  }
  for (int i = 0; i < new_blocks; ++i) seq.block_table.push_back(*pool_.allocate());
  return true;
}

void Scheduler::preempt(Sequence& seq, int& budget, SchedulePlan& plan) {
  auto chunk = std::find_if(plan.chunks.begin(), plan.chunks.end(),
                            [&](const ScheduledChunk& c) { return c.id == seq.id; });
  if (chunk != plan.chunks.end()) {
    budget += chunk->length;
    plan.tokens -= chunk->length;
    plan.chunks.erase(chunk);
  }
  std::erase_if(plan.copies, [&](const BlockCopy& copy) {
    return std::find(seq.block_table.begin(), seq.block_table.end(), copy.to) !=
           seq.block_table.end();
  });
  free_blocks(seq);
  running_.erase(std::find(running_.begin(), running_.end(), seq.id));
  enqueue_waiting(seq.id);
  ++seq.preemptions;
  ++preemptions_;
  plan.preempted.push_back(seq.id);
}

void Scheduler::schedule_running(Sequence& seq, int length, int& budget, SchedulePlan& plan) {
  while (!reserve(seq, length, plan)) {
    Sequence& victim = at(running_.back());
    preempt(victim, budget, plan);
    if (&victim == &seq) return;
  }
  const bool samples = seq.computed + length == static_cast<int>(seq.tokens.size());
  plan.chunks.push_back({seq.id, seq.computed, length, samples});
  plan.tokens += length;
  budget -= length;
}

std::vector<int32_t> Scheduler::cached_prefix(const Sequence& seq,
                                              std::vector<BlockHash>& hashes) const {
  std::vector<int32_t> blocks;
  if (!seq.reuses_cached_prefix) return blocks;
  const int block_size = pool_.block_size();
  // At least one token is left to compute: its logits give the next token.
  const int max_blocks = (static_cast<int>(seq.tokens.size()) - 1) / block_size;
  for (int i = 0; i < max_blocks; ++i) {
    const BlockHash parent = i == 0 ? root_block_hash() : hashes.back();
    const std::span<const int32_t> tokens(seq.tokens.data() + i * block_size,
                                          static_cast<size_t>(block_size));
    const auto block = pool_.find_cached(parent, tokens);
    if (!block) break;
    blocks.push_back(*block);
    hashes.push_back(hash_block(parent, tokens));
  }
  return blocks;
}

bool Scheduler::admit(Sequence& seq, int& budget, SchedulePlan& plan) {
  std::vector<BlockHash> hashes;
  const std::vector<int32_t> hits = cached_prefix(seq, hashes);
  const int cached_tokens = static_cast<int>(hits.size()) * pool_.block_size();
  const int remaining = static_cast<int>(seq.tokens.size()) - cached_tokens;
  const int length = std::min(remaining, budget);
  if (!config_.enable_chunked_prefill && length < remaining) return false;
  const int new_blocks = blocks_for(cached_tokens + length) - static_cast<int>(hits.size());
  const auto idle_hits =
      std::count_if(hits.begin(), hits.end(), [&](int32_t b) { return pool_.ref_count(b) == 0; });
  if (new_blocks > pool_.free_blocks() - idle_hits) return false;

  for (int32_t block : hits) pool_.retain(block);
  seq.block_table = hits;
  seq.full_block_hashes = std::move(hashes);
  seq.computed = cached_tokens;
  for (int i = 0; i < new_blocks; ++i) seq.block_table.push_back(*pool_.allocate());
  if (seq.reuses_cached_prefix && seq.preemptions == 0) {  // a recompute is not a new query
    prefix_cache_.queried_tokens += static_cast<int64_t>(seq.tokens.size());
    prefix_cache_.hit_tokens += cached_tokens;
  }

  waiting_.erase(std::find(waiting_.begin(), waiting_.end(), seq.id));
  insert_running(seq.id);
  plan.chunks.push_back({seq.id, seq.computed, length, length == remaining});
  plan.tokens += length;
  budget -= length;
  return true;
}

SchedulePlan Scheduler::schedule() {
  SchedulePlan plan;
  int budget = config_.max_num_batched_tokens;
  const std::vector<SequenceId> order = running_;
  for (const bool decodes : {true, false}) {
    for (SequenceId id : order) {
      if (budget == 0) break;
      auto it = sequences_.find(id);
      if (it == sequences_.end() || it->second.status != SequenceStatus::running) continue;
      Sequence& seq = it->second;
      const int remaining = seq.uncomputed();
      if (remaining <= 0 || (remaining == 1) != decodes) continue;
      const int length = std::min(remaining, budget);
      if (!config_.enable_chunked_prefill && length < remaining) continue;
      schedule_running(seq, length, budget, plan);
    }
  }
  if (plan.preempted.empty()) {
    while (!waiting_.empty() && running() < config_.max_num_seqs && budget > 0) {
      if (!admit(at(waiting_.front()), budget, plan)) break;
    }
  }
  return plan;
}

void Scheduler::complete(const SchedulePlan& plan) {
  const int block_size = pool_.block_size();
  for (const ScheduledChunk& chunk : plan.chunks) {
    Sequence& seq = at(chunk.id);
    seq.computed += chunk.length;
    const int full = seq.computed / block_size;
    for (auto i = static_cast<int>(seq.full_block_hashes.size()); i < full; ++i) {
      const BlockHash parent = i == 0 ? root_block_hash() : seq.full_block_hashes.back();
      const std::span<const int32_t> tokens(seq.tokens.data() + i * block_size,
                                            static_cast<size_t>(block_size));
      seq.full_block_hashes.push_back(
          pool_.cache_full_block(seq.block_table[static_cast<size_t>(i)], parent, tokens));
    }
  }
}

void Scheduler::append_token(SequenceId id, int32_t token) {
  at(id).tokens.push_back(token);
}

}  // namespace troupe
