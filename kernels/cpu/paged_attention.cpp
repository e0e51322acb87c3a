#include "kernels/cpu/paged_attention.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cpu/half.hpp"
#include "kernels/cpu/kernel_table.hpp"

namespace troupe {
namespace {

// Query rows against their sequence's positions, by llama.cpp's tiled flash attention: per tile
// of kAttentionTile positions, scores; each row's running maximum raised, and its output and
// sum so far scaled down, if the tile holds a larger score; the exponentials summed
// (softmax_tile); their values added in. The rows are `tokens` consecutive tokens' query heads
// sharing one KV head, `heads` rows a token (row g at q + g * head_dim, its output at out + g *
// head_dim); the first token attends to positions 0..first_length-1, each next one to one more.
// Each row's arithmetic is the one it would have alone: scores past a row's own positions are
// computed but not used, and its values stop at its last position. `key_blocks` and
// `value_blocks` start at the KV head (a block's run of one head, head_dim a row). `scores` holds
// kAttentionTile per row. With `prefetch_values`, each tile's values are prefetched before its
// scores are computed (when the cache is read from DRAM).
void attend(const float* q, int tokens, int heads, int first_length,
            const uint16_t* const* key_blocks, const uint16_t* const* value_blocks, int block_size,
            int head_dim, float scale, bool prefetch_values, float* scores, float* out) {
  const KernelTable& k = kernels();
  const int rows = tokens * heads, last_length = first_length + tokens - 1;
  thread_local std::vector<float> max, old_max, sum;  // per row
  thread_local std::vector<double> tile_sum;
  thread_local std::vector<int> counts;
  for (auto* v : {&max, &old_max, &sum}) v->resize(static_cast<size_t>(rows));
  tile_sum.resize(static_cast<size_t>(rows));
  counts.resize(static_cast<size_t>(rows));
  std::fill(out, out + rows * head_dim, 0.0f);
  std::fill(max.begin(), max.end(), -INFINITY);
  std::fill(sum.begin(), sum.end(), 0.0f);
  const int run_bytes = block_size * head_dim * static_cast<int>(sizeof(uint16_t));
  for (int first = 0; first < last_length; first += kAttentionTile) {
    const int n = std::min(kAttentionTile, last_length - first);
    if (prefetch_values) {
      // This tile's value runs, asked for now: they arrive while its scores are computed. The
      // values are read a run at a time, position by position, and each run waited on memory.
      for (int b = first / block_size; b * block_size < first + n; ++b) {
        const auto* run = reinterpret_cast<const char*>(value_blocks[b]);
        for (int at = 0; at < run_bytes; at += 64) __builtin_prefetch(run + at);
      }
    }
    // Positions of this tile that token j attends to.
    const auto seen = [&](int j) { return std::clamp(first_length + j - first, 0, n); };
    k.attention_scores(q, rows, key_blocks, block_size, first, n, head_dim, scale, scores);
    for (int g = 0; g < rows; ++g) counts[g] = seen(g / heads);
    old_max = max;
    k.softmax_tile(scores, rows, counts.data(), max.data(), tile_sum.data());
    for (int g = 0; g < rows; ++g) {
      if (max[g] > old_max[g]) {
        const float shrink = std::exp(old_max[g] - max[g]);
        for (int d = 0; d < head_dim; ++d) out[g * head_dim + d] *= shrink;
        sum[g] *= shrink;
      }
      sum[g] = static_cast<float>(sum[g] + tile_sum[g]);  // in double
    }
    // The positions every token attends to, for all rows at once; then each later token's few
    // more (the tile where the tokens' positions end).
    const int common = seen(0);
    if (common > 0) {
      k.attention_values(scores, rows, value_blocks, block_size, head_dim, first, common, head_dim,
                         out);
    }
    for (int j = 1; j < tokens; ++j) {
      if (seen(j) == common) continue;
      k.attention_values(scores + j * heads * kAttentionTile + common, heads, value_blocks,
                         block_size, head_dim, first + common, seen(j) - common, head_dim,
                         out + j * heads * head_dim);
    }
  }
  for (int g = 0; g < rows; ++g) {
    const float inverse = sum[g] == 0.0f ? 0.0f : 1.0f / sum[g];
    for (int d = 0; d < head_dim; ++d) out[g * head_dim + d] *= inverse;
  }
}

// Dimension 0 of a token's key in its (transposed) cache block: dimension i is at [i * block_size].
uint16_t* key_slot(const PagedKvLayer& layer, const TokenPlace& place) {
  const int bs = layer.block_size;
  return layer.key_block(place.block_table[place.position / bs]) + place.position % bs;
}

void store_halves(const float* x, int n, uint16_t* out, int stride) {
  for (int i = 0; i < n; ++i) out[i * stride] = float_to_half(x[i]);
}

// A token's value row, head by head into its block's runs.
void store_value(const PagedKvLayer& layer, const TokenPlace& place, const float* value) {
  const int32_t block = place.block_table[place.position / layer.block_size];
  const int slot = place.position % layer.block_size;
  for (int first = 0; first < layer.kv_dim; first += layer.head_dim) {
    store_halves(value + first, layer.head_dim,
                 layer.value_block(block, first) + slot * layer.head_dim, 1);
  }
}

}  // namespace

void store_kv(const PagedKvLayer& layer, const TokenPlace& place, const float* key,
              const float* value) {
  store_halves(key, layer.kv_dim, key_slot(layer, place), layer.block_size);
  store_value(layer, place, value);
}

void store_rotated_kv(const PagedKvLayer& layer, const TokenPlace& place, const RopeTable& rope,
                      const RopeConfig& config, int64_t t, int head_dim, const float* key,
                      const float* value) {
  thread_local std::vector<float> rotated;  // one head, in L1
  rotated.resize(static_cast<size_t>(head_dim));
  uint16_t* k = key_slot(layer, place);
  for (int first = 0; first < layer.kv_dim; first += head_dim) {
    rope.rotate_head(config, t, key + first, head_dim, rotated.data());
    store_halves(rotated.data(), head_dim, k + first * layer.block_size, layer.block_size);
  }
  store_value(layer, place, value);
}

// Above this many bytes of keys and values in a step, a layer's cache is read from DRAM: a
// Zen 5 core's L2 (the L3 is shared, and a step goes through every layer before it comes back).
constexpr int64_t kCachedKvBytes = int64_t{1} << 20;

void paged_attention(ThreadPool& pool, const AttentionShape& shape, const PagedKvLayer& layer,
                     const float* q, const TokenPlace* places, int64_t tokens, float* out) {
  const int group = shape.heads / shape.kv_heads;  // query heads sharing one KV head (GQA)
  const int head_dim = shape.head_dim;
  const int bs = layer.block_size;
  const int64_t q_stride = static_cast<int64_t>(shape.heads) * head_dim;
  // A task is a KV head with its whole group of query heads, so that each key and value is read
  // once for the group; with fewer of those than threads, a single query head. (One sequence's 3
  // KV heads on 2 threads: whole groups, though one thread takes two, 1.5-1.7x faster than 9
  // single heads on a Zen 5 EPYC, troupe-micro paged_attention at 128 and 512 positions.)
  const int heads = tokens * shape.kv_heads >= pool.size() ? group : 1;
  // ... for a run of consecutive tokens of one sequence (a prompt's), up to kAttentionQueries
  // query rows in all: each key and value converted from F16 then serves several tokens.
  const int run_most = std::max(1, kAttentionQueries / heads);
  std::vector<int64_t> run_starts;  // the runs' first tokens, then `tokens`
  for (int64_t t = 0; t < tokens; ++t) {
    const bool follows = t > 0 && places[t].block_table == places[t - 1].block_table &&
                         places[t].position == places[t - 1].position + 1 &&
                         t - run_starts.back() < run_most;
    if (!follows) run_starts.push_back(t);
  }
  run_starts.push_back(tokens);
  const int64_t runs = std::ssize(run_starts) - 1;
  // Whether this layer's cache, as the step reads it, comes from DRAM: more than an L2 holds.
  // Then prefetching each tile's values pays (troupe-micro decode of 32 sequences over 30
  // layers -20%, at 2048 positions -25%); from cache the prefetches only cost (+4-13%).
  int64_t positions = 0;
  for (int64_t r = 0; r < runs; ++r) positions += places[run_starts[r + 1] - 1].position + 1;
  const bool from_memory =
      positions * layer.kv_dim * 2 * static_cast<int64_t>(sizeof(uint16_t)) > kCachedKvBytes;
  const int tasks_per_run = shape.heads / heads;
  pool.parallel_for(runs * tasks_per_run, [&](int64_t begin, int64_t end) {
    thread_local std::vector<float> rows_q, rows_out, scores;
    thread_local std::vector<const uint16_t*> key_blocks, value_blocks;
    for (int64_t task = begin; task < end; ++task) {
      // The last runs first: a prompt's later tokens attend to more positions, and the pool's
      // last claims (halves taken from the back of a range) are its lightest tasks, so the
      // threads finish together.
      const int64_t run = runs - 1 - task / tasks_per_run;
      const int64_t t0 = run_starts[static_cast<size_t>(run)];
      const int n = static_cast<int>(run_starts[static_cast<size_t>(run) + 1] - t0);
      const int h = static_cast<int>(task % tasks_per_run) * heads;  // its first head
      const int kv_offset = (h / group) * head_dim;
      const auto width = static_cast<size_t>(heads * head_dim);  // a token's rows
      rows_q.resize(n * width);
      rows_out.resize(n * width);
      scores.resize(static_cast<size_t>(n * heads * kAttentionTile));
      for (int j = 0; j < n; ++j) {
        const float* from = q + (t0 + j) * q_stride + h * head_dim;
        std::copy(from, from + width, rows_q.begin() + static_cast<int64_t>(j * width));
      }
      const TokenPlace& place = places[t0];
      const int32_t first_length = place.position + 1;
      const auto blocks = static_cast<size_t>((first_length + n - 1 + bs - 1) / bs);
      key_blocks.resize(blocks);
      value_blocks.resize(blocks);
      for (size_t b = 0; b < blocks; ++b) {
        key_blocks[b] = layer.key_block(place.block_table[b]) + kv_offset * bs;
        value_blocks[b] = layer.value_block(place.block_table[b], kv_offset);
      }
      attend(rows_q.data(), n, heads, first_length, key_blocks.data(), value_blocks.data(), bs,
             head_dim, shape.scale, from_memory, scores.data(), rows_out.data());
      for (int j = 0; j < n; ++j) {
        const auto from = rows_out.begin() + static_cast<int64_t>(j * width);
        std::copy(from, from + static_cast<int64_t>(width),
                  out + (t0 + j) * q_stride + h * head_dim);
      }
    }
  });
}

}  // namespace troupe
