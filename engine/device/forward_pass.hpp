#pragma once
// The device seam: one step's forward pass over a paged KV cache that the implementation owns in
// its device's memory. The scheduling side (StepPlanner, BlockPool) decides which block holds
// which tokens and sends block tables; the forward pass only reads and writes the blocks it is
// told. It allocates the whole cache once, at creation, and never frees a block: freeing is the
// BlockPool's bookkeeping. The CPU implementation is Transformer (engine/model/transformer.hpp);
// forward_pass_factory.hpp picks one from --device.
#include <cstdint>
#include <span>
#include <vector>

#include "engine/model/model_config.hpp"
#include "engine/parallel/communicator.hpp"

namespace troupe {

class ThreadPool;

// Which rows of a chunk's logits a step returns.
enum class ChunkLogits { last, every, none };

// The slice of one sequence that a step computes: `tokens` at positions start_position, ...
// Its block table must already cover start_position + tokens.size() positions.
struct SequenceChunk {
  std::span<const int32_t> tokens;
  int32_t start_position = 0;
  std::span<const int32_t> block_table;
  ChunkLogits logits = ChunkLogits::last;  // none for a prompt chunk that does not end it
  bool hidden = false;  // also return every token's final hidden state (hidden_states())
};

// The KV cache's size: `blocks` blocks of `block_size` token slots, for every layer.
struct KvShape {
  int blocks = 0;
  int block_size = 16;
  // Every page faulted in ahead of the steps (on the CPU: KvCache), as a server reserves its
  // cache; false where the cache is sized to a whole context and mostly never written.
  bool prefault = true;
};

class ForwardPass {
 public:
  virtual ~ForwardPass() = default;

  virtual const ModelConfig& config() const = 0;
  virtual KvShape kv_shape() const = 0;

  // Runs every chunk of the batch together, writing their K/V into the cache. Returns logits on
  // the host, vocab_size floats per row, in chunk order: as each chunk's `logits` asks, its last
  // token's row, every token's row or none. The span stays valid until the next call. Throws
  // std::logic_error on a malformed batch (an empty chunk, a short block table, a token outside
  // the vocabulary): the planner validated it, so that is a bug upstream.
  virtual std::span<const float> forward(std::span<const SequenceChunk> batch) = 0;

  // After forward(): the final hidden states (after the output norm, what the logits are made
  // from), embedding_dim floats per token of each chunk that asked (`hidden`), in chunk order.
  // Empty where the pass cannot give them (a rank that is not its group's leader).
  virtual std::span<const float> hidden_states() const { return {}; }

  // Copy-on-write: block `to` of every layer gets block `from`'s keys and values.
  virtual void copy_block(int32_t from, int32_t to) = 0;

  // Blocks until a prefaulted cache's pages are all in (KvShape::prefault): a benchmark of
  // steps waits here, so that the background faulting (seconds on a VM, for 1 GiB) does not
  // share the machine with what it measures. At once where there is nothing to wait for.
  virtual void wait_kv_faulted() {}

  // The host threads this pass computes on, for per-sequence work between passes (sampling);
  // null where it has none to lend.
  virtual ThreadPool* host_threads() { return nullptr; }

  // A tensor-parallel rank's own totals (rank 0's for a group); zeros for a pass not in a group.
  virtual parallel::RankStats own_stats() const { return {}; }
  // Every rank's totals, in rank order; none for a pass not in a group. A group asks its ranks
  // in a collective of its own: call it between steps, and not on every one.
  virtual std::vector<parallel::RankStats> rank_stats() { return {}; }
};

}  // namespace troupe
