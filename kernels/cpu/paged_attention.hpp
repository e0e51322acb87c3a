#pragma once
// Causal attention that reads keys and values through per-sequence block tables (the paged KV
// layout of vLLM): a layer's cache is an array of fixed-size blocks, and position p of a
// sequence lives in block block_table[p / block_size], slot p % block_size. Stored as F16.
// Keys are transposed inside a block ([kv_dim][block_size]): one dimension of 16 consecutive
// positions is one vector load, so scores come 16 positions at a time. The softmax is online,
// over tiles of 64 positions, in the arithmetic of llama.cpp's flash attention, and past 128
// positions in chunks of 128 whose states are folded in order (kernels/README.md).
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <vector>

#include "kernels/cpu/rope.hpp"
#include "kernels/cpu/thread_pool.hpp"

namespace troupe {

// One layer's K and V caches, half-precision values: keys [blocks][kv_dim][block_size], values
// [blocks][kv_heads][block_size][head_dim]. Both take block_size * kv_dim values per block, and
// a KV head's share of a block is one contiguous run of either: a decode step streams each
// sequence's cache from DRAM, and whole runs keep the prefetchers on it (values as rows of all
// heads, [block_size][kv_dim], split every head's run into 16 pieces).
struct PagedKvLayer {
  uint16_t* keys = nullptr;
  uint16_t* values = nullptr;
  int block_size = 16;
  int kv_dim = 0;    // kv_heads * head_dim
  int head_dim = 0;  // one KV head's dimensions

  // Dimension 0 of a block's keys; dimension i of slot s is at [i * block_size + s].
  uint16_t* key_block(int32_t block) const {
    return keys + static_cast<int64_t>(block) * block_size * kv_dim;
  }
  // Slot 0 of a block's values at the KV head whose first dimension is `head_offset` (a
  // multiple of head_dim); slot s of that head is at [s * head_dim].
  uint16_t* value_block(int32_t block, int head_offset) const {
    return values + static_cast<int64_t>(block) * block_size * kv_dim + head_offset * block_size;
  }
};

struct AttentionShape {
  int heads = 0;
  int kv_heads = 0;
  int head_dim = 0;
  float scale = 1.0f;  // usually 1 / sqrt(head_dim)
};

// Where one token of the batch sits: its sequence's block table and its position. The token
// attends to positions 0..position of that sequence.
struct TokenPlace {
  const int32_t* block_table = nullptr;
  int32_t position = 0;
};

// Stores a token's key and value rows (kv_dim floats each) into its cache slot.
void store_kv(const PagedKvLayer& layer, const TokenPlace& place, const float* key,
              const float* value);

// The same with the key rotated on the way in (RoPE at the batch's token `t` of `rope`): the
// rotated key is written once, as halves, into the cache, and `key` is left as it was.
void store_rotated_kv(const PagedKvLayer& layer, const TokenPlace& place, const RopeTable& rope,
                      const RopeConfig& config, int64_t t, const float* key, const float* value);
// Its parts for KV heads [first_head, end_head) only (key and value are the token's whole rows):
// one thread's share, from inside a region.
void store_rotated_key_heads(const PagedKvLayer& layer, const TokenPlace& place,
                             const RopeTable& rope, const RopeConfig& config, int64_t t,
                             const float* key, int first_head, int end_head);
void store_value_heads(const PagedKvLayer& layer, const TokenPlace& place, const float* value,
                       int first_head, int end_head);

// out[t][h * head_dim ..] = softmax(q_t,h . K^T * scale) V for every token and head.
// q and out are [tokens][heads * head_dim].
void paged_attention(ThreadPool& pool, const AttentionShape& shape, const PagedKvLayer& layer,
                     const float* q, const TokenPlace* places, int64_t tokens, float* out);

// The same attention as pieces of work, planned once for every layer of a step (the pieces
// depend on the tokens' places, not on the layer's cache): paged_attention runs them over the
// pool; a caller already inside a region of its own gives each thread a share of pieces(), then,
// after a barrier, a share of folds(). Every output is the same either way.
class AttentionPieces {
 public:
  // Whether a step's attention is cheaper on the caller alone than in a region of its own: a
  // region costs more than it shares out below a few dozen positions.
  static bool caller_alone(const TokenPlace* places, int64_t tokens);

  // For `threads` sharing the pieces: a lone sequence's few head groups are cut into chunks of
  // positions until each thread has several. `places` must outlive the plan's use.
  void plan(const AttentionShape& shape, int block_size, const TokenPlace* places, int64_t tokens,
            int threads);
  int64_t pieces() const { return std::ssize(pieces_); }
  // Row groups whose chunks were pieces of their own, their states left to be met.
  int64_t folds() const { return std::ssize(folds_); }
  // Pieces [begin, end) of one layer's attention: the rows of every piece that is a whole row
  // group into out; a chunk piece's state kept for fold(). Threads may run disjoint ranges at once.
  void attend(const PagedKvLayer& layer, const float* q, float* out, int64_t begin, int64_t end);
  // Row groups [begin, end) of folds(): their chunks' states met in position order, into out.
  void fold(float* out, int64_t begin, int64_t end);

 private:
  // A piece of work: a run's head group, all its chunks in turn (chunk -1), or one chunk of it.
  struct Piece {
    int64_t run;
    int h;             // its first head
    int chunk;         // -1: every chunk
    size_t state = 0;  // where a chunk piece leaves its state in states_
  };
  struct RunSpan {
    int64_t first;  // token
    int tokens;
  };
  RunSpan run_of(const Piece& piece) const;
  size_t width() const {
    return static_cast<size_t>(heads_) * shape_.head_dim;
  }  // a token's rows of a piece
  void write_out(const Piece& piece, const float* rows_out, float* out) const;

  AttentionShape shape_;
  const TokenPlace* places_ = nullptr;
  int block_size_ = 16;
  int group_ = 1;  // query heads sharing one KV head
  int heads_ = 1;  // query heads a piece takes of each token: its KV head's group, or one
  bool from_memory_ = false, ask_ahead_ = false;
  std::vector<int64_t> run_starts_;  // runs of consecutive tokens of one sequence; then `tokens`
  std::vector<Piece> pieces_;
  std::vector<size_t> folds_;  // each row group's first chunk piece
  std::vector<float> states_;
};

}  // namespace troupe
