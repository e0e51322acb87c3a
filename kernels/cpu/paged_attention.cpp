#include "kernels/cpu/paged_attention.hpp"

#include <algorithm>
#include <cmath>
#include <span>
#include <vector>

#include "kernels/cpu/half.hpp"
#include "kernels/cpu/kernel_table.hpp"
#include "kernels/cpu/prefetch_lines.hpp"

namespace troupe {
namespace {

// Positions per chunk of a row's attention. Each chunk's softmax runs from a fresh state and the
// chunks' states are folded in position order (fold_chunk): the same arithmetic whether one
// task takes a row's chunks in turn or several take one each, which a lone long sequence needs
// to keep both threads busy (3 KV heads on 2 threads otherwise leave one thread a third of the
// work). Two tiles: a row's first 128 positions keep llama.cpp's tile-by-tile order exactly.
constexpr int kAttentionChunk = 2 * kAttentionTile;

int chunks_for(int length) {
  return (length + kAttentionChunk - 1) / kAttentionChunk;
}

// The runs of one KV head's keys, then of its values, for positions [first, end): for the kernels
// to ask for ahead (line_queue.hpp), block_size * head_dim halves each. key_run(b) and
// value_run(b) give block b's runs.
template <typename KeyRun, typename ValueRun>
void tile_runs(int first, int end, int block_size, const KeyRun& key_run, const ValueRun& value_run,
               std::vector<const char*>& into) {
  into.clear();
  const int b0 = first / block_size, b_end = (end - 1) / block_size + 1;
  for (int b = b0; b < b_end; ++b) into.push_back(reinterpret_cast<const char*>(key_run(b)));
  for (int b = b0; b < b_end; ++b) into.push_back(reinterpret_cast<const char*>(value_run(b)));
}

// Asks for what is left of a queue, into L2 as the kernels do: a short tile (a row's last) takes
// fewer steps than the next tile has lines.
void ask_rest(const LineQueue& queue) {
  for (const char* const* run = queue.run; run <= queue.last; ++run) {
    for (int at = run == queue.run ? queue.offset : 0; at < queue.run_bytes; at += 64) {
      __builtin_prefetch(*run + at, 0, 2);
    }
  }
}

// Where a chunk leaves `rows` query rows: each row's output so far (not yet divided by its
// sum; row g at out + g * head_dim), its running maximum and its sum of exponentials.
struct RowsState {
  float* out;
  float* max;
  float* sum;
};

// Query rows against their sequence's positions first .. first + kAttentionChunk - 1 (`chunk`
// counts chunks), by llama.cpp's tiled flash attention: per tile of kAttentionTile positions,
// scores; each row's running maximum raised, and its output and sum so far scaled down, if the
// tile holds a larger score; the exponentials summed (softmax_tile); their values added in. The
// rows are `tokens` consecutive tokens' query heads sharing one KV head, `heads` rows a token
// (row g at q + g * head_dim); the first token attends to positions 0..first_length-1, each
// next one to one more. Each row's arithmetic is the one it would have alone: scores past a
// row's own positions are computed but not used, and its values stop at its last position; a
// row with no position in the chunk keeps an empty state (maximum -inf, sum 0).
// `key_blocks` and `value_blocks` start at the KV head (a block's run of one head, head_dim a
// row). `scores` holds kAttentionTile per row.
// Where the step's cache comes from DRAM (`from_memory`) and `ask_ahead`, the kernels ask for the
// next tile's lines while they compute a tile (line_queue.hpp); the chunk's last tile asks for
// `after`, the first tile of the work that follows in this thread's claimed range. `asked`: whether
// the work before asked for the chunk's first tile. A tile from DRAM that no one asked for ahead
// has its values asked for in one burst at its start.
struct Ahead {
  bool from_memory = false;
  bool ask_ahead = false;
  bool asked = false;
  std::span<const char* const> after;
};

void attend_chunk(const float* q, int tokens, int heads, int first_length, int chunk,
                  const uint16_t* const* key_blocks, const uint16_t* const* value_blocks,
                  int block_size, int head_dim, float scale, const Ahead& ahead, float* scores,
                  const RowsState& state) {
  const KernelTable& k = kernels();
  const int rows = tokens * heads, last_length = first_length + tokens - 1;
  thread_local std::vector<float> old_max;  // per row
  thread_local std::vector<double> tile_sum;
  thread_local std::vector<int> counts;
  thread_local std::vector<const char*> runs;  // the next tile's, for the kernels to ask for
  const int run_bytes = block_size * head_dim * static_cast<int>(sizeof(uint16_t));
  old_max.resize(static_cast<size_t>(rows));
  tile_sum.resize(static_cast<size_t>(rows));
  counts.resize(static_cast<size_t>(rows));
  float* const out = state.out;
  std::fill(out, out + rows * head_dim, 0.0f);
  std::fill(state.max, state.max + rows, -INFINITY);
  std::fill(state.sum, state.sum + rows, 0.0f);
  const int chunk_end = std::min(last_length, (chunk + 1) * kAttentionChunk);
  for (int first = chunk * kAttentionChunk; first < chunk_end; first += kAttentionTile) {
    const int n = std::min(kAttentionTile, chunk_end - first);
    // What the kernels ask for: this chunk's next tile, or the work's after it.
    std::span<const char* const> ask = ahead.after;
    const int next = first + kAttentionTile;
    if (ahead.ask_ahead && next < chunk_end) {
      tile_runs(
          next, std::min(chunk_end, next + kAttentionTile), block_size,
          [&](int b) { return key_blocks[b]; }, [&](int b) { return value_blocks[b]; }, runs);
      ask = runs;
    }
    // Nothing to ask for: a line in cache, again and again.
    const auto* q_line = reinterpret_cast<const char*>(q);
    LineQueue queue = ask.empty() ? LineQueue{&q_line, &q_line, 128}
                                  : LineQueue{ask.data(), &ask.back(), run_bytes};
    const bool first_tile = first == chunk * kAttentionChunk;
    if (ahead.from_memory && (!ahead.ask_ahead || (first_tile && !ahead.asked))) {
      // This tile's value runs, asked for now: they arrive while its scores are computed. The
      // values are read a run at a time, position by position, and each run waited on memory.
      for (int b = first / block_size; b * block_size < first + n; ++b) {
        prefetch_lines(value_blocks[b], static_cast<size_t>(run_bytes));
      }
    }
    // Positions of this tile that token j attends to.
    const auto seen = [&](int j) { return std::clamp(first_length + j - first, 0, n); };
    k.attention_scores(q, rows, key_blocks, block_size, first, n, head_dim, scale, scores, queue);
    for (int g = 0; g < rows; ++g) counts[g] = seen(g / heads);
    std::copy(state.max, state.max + rows, old_max.begin());
    k.softmax_tile(scores, rows, counts.data(), state.max, tile_sum.data());
    for (int g = 0; g < rows; ++g) {
      if (state.max[g] > old_max[g]) {
        const float shrink = std::exp(old_max[g] - state.max[g]);
        for (int d = 0; d < head_dim; ++d) out[g * head_dim + d] *= shrink;
        state.sum[g] *= shrink;
      }
      state.sum[g] = static_cast<float>(state.sum[g] + tile_sum[g]);  // in double
    }
    // The positions every token attends to, for all rows at once; then each later token's few
    // more (the tile where the tokens' positions end).
    const int common = seen(0);
    if (common > 0) {
      k.attention_values(scores, rows, value_blocks, block_size, head_dim, first, common, head_dim,
                         out, queue);
    }
    for (int j = 1; j < tokens; ++j) {
      if (seen(j) == common) continue;
      k.attention_values(scores + j * heads * kAttentionTile + common, heads, value_blocks,
                         block_size, head_dim, first + common, seen(j) - common, head_dim,
                         out + j * heads * head_dim, queue);
    }
    if (ahead.ask_ahead && n < kAttentionTile) ask_rest(queue);
  }
}

// Folds a later chunk's state into the rows' state so far: both scaled to the larger maximum,
// then added. One function, not inlined, for both ways of running the chunks, so that they
// compile to the same arithmetic.
[[gnu::noinline]] void fold_chunk(int rows, int head_dim, const RowsState& into,
                                  const RowsState& chunk) {
  for (int g = 0; g < rows; ++g) {
    if (chunk.sum[g] == 0.0f) continue;  // no position of the row in the chunk
    const float largest = std::max(into.max[g], chunk.max[g]);
    const float a = std::exp(into.max[g] - largest), b = std::exp(chunk.max[g] - largest);
    float* out = into.out + g * head_dim;
    const float* more = chunk.out + g * head_dim;
    for (int d = 0; d < head_dim; ++d) out[d] = out[d] * a + more[d] * b;
    into.sum[g] = into.sum[g] * a + chunk.sum[g] * b;
    into.max[g] = largest;
  }
}

// Each row's output divided by its sum: the softmax's weights made to add up to 1.
void normalize(int rows, int head_dim, const RowsState& state) {
  for (int g = 0; g < rows; ++g) {
    const float inverse = state.sum[g] == 0.0f ? 0.0f : 1.0f / state.sum[g];
    for (int d = 0; d < head_dim; ++d) state.out[g * head_dim + d] *= inverse;
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

}  // namespace

void store_kv(const PagedKvLayer& layer, const TokenPlace& place, const float* key,
              const float* value) {
  store_halves(key, layer.kv_dim, key_slot(layer, place), layer.block_size);
  store_value_heads(layer, place, value, 0, layer.kv_dim / layer.head_dim);
}

void store_rotated_kv(const PagedKvLayer& layer, const TokenPlace& place, const RopeTable& rope,
                      const RopeConfig& config, int64_t t, const float* key, const float* value) {
  const int kv_heads = layer.kv_dim / layer.head_dim;
  store_rotated_key_heads(layer, place, rope, config, t, key, 0, kv_heads);
  store_value_heads(layer, place, value, 0, kv_heads);
}

void store_rotated_key_heads(const PagedKvLayer& layer, const TokenPlace& place,
                             const RopeTable& rope, const RopeConfig& config, int64_t t,
                             const float* key, int first_head, int end_head) {
  const int head_dim = layer.head_dim;
  thread_local std::vector<float> rotated;  // one head, in L1
  rotated.resize(static_cast<size_t>(head_dim));
  uint16_t* k = key_slot(layer, place);
  for (int head = first_head; head < end_head; ++head) {
    const int first = head * head_dim;
    rope.rotate_head(config, t, key + first, head_dim, rotated.data());
    store_halves(rotated.data(), head_dim, k + first * layer.block_size, layer.block_size);
  }
}

void store_value_heads(const PagedKvLayer& layer, const TokenPlace& place, const float* value,
                       int first_head, int end_head) {
  const int32_t block = place.block_table[place.position / layer.block_size];
  const int slot = place.position % layer.block_size;
  for (int head = first_head; head < end_head; ++head) {
    const int first = head * layer.head_dim;
    store_halves(value + first, layer.head_dim,
                 layer.value_block(block, first) + slot * layer.head_dim, 1);
  }
}

// Above this many bytes of keys and values in a step, a layer's cache is read from DRAM even
// where the step wrote all of it (a prompt's): a Zen 5 core's L2 (the L3 is shared).
constexpr int64_t kCachedKvBytes = int64_t{1} << 20;

// Fewer pieces of attention than this per thread, and a step splits its rows' positions into
// chunks of their own (a lone sequence's 3 KV heads on 2 threads would leave one thread idle a
// third of the time).
constexpr int64_t kPiecesPerThread = 4;

// Up to this many positions attended in a step, over all its tokens (a lone sequence's first
// 64 decode steps), its attention runs on the caller alone: a region would cost more than it shares
// out. A lone decode token's attention, 30 layers in turn, 2 threads against the caller (2-core Zen
// 4 EPYC, alternating): at 32 positions 2.8-3.4 against 2.1-2.5 us a layer with the threads on one
// CCD and 4.8 against 2.6 on two; at 64, 2.9-3.3 against 2.7-3.2 and 7.7 against 3.3; at 128 the
// threads win on one CCD (4.1-4.8 against 4.8-5.9).
constexpr int64_t kCallerAlonePositions = 64;

bool AttentionPieces::caller_alone(const TokenPlace* places, int64_t tokens) {
  int64_t attended = 0;  // positions, over every token, counted until past the bound
  for (int64_t t = 0; t < tokens && attended <= kCallerAlonePositions; ++t) {
    attended += places[t].position + 1;
  }
  return attended <= kCallerAlonePositions;
}

void AttentionPieces::plan(const AttentionShape& shape, int block_size, const TokenPlace* places,
                           int64_t tokens, int threads) {
  shape_ = shape;
  places_ = places;
  block_size_ = block_size;
  group_ = shape.heads / shape.kv_heads;  // query heads sharing one KV head (GQA)
  const int head_dim = shape.head_dim;
  // A task is a KV head with its whole group of query heads, so that each key and value is read
  // once for the group; with fewer of those than threads, a single query head. (One sequence's 3
  // KV heads on 2 threads: whole groups, though one thread takes two, 1.5-1.7x faster than 9
  // single heads on a Zen 5 EPYC, troupe-micro paged_attention at 128 and 512 positions.)
  heads_ = tokens * shape.kv_heads >= threads ? group_ : 1;
  // ... for a run of consecutive tokens of one sequence (a prompt's), up to kAttentionQueries
  // query rows in all: each key and value converted from F16 then serves several tokens.
  const int run_most = std::max(1, kAttentionQueries / heads_);
  run_starts_.clear();  // the runs' first tokens, then `tokens`
  for (int64_t t = 0; t < tokens; ++t) {
    const bool follows = t > 0 && places[t].block_table == places[t - 1].block_table &&
                         places[t].position == places[t - 1].position + 1 &&
                         t - run_starts_.back() < run_most;
    if (!follows) run_starts_.push_back(t);
  }
  run_starts_.push_back(tokens);
  const int64_t runs = std::ssize(run_starts_) - 1;
  // Whether this layer's cache, as the step reads it, comes from DRAM: where it holds positions
  // of earlier steps (the whole model's weights have streamed through every cache since), or
  // more than an L2 holds, counting each sequence's positions once (a prompt's runs read the
  // same ones). Then the kernels ask for each next tile's lines while they compute the one
  // before (troupe-micro decode of 32 sequences at 2048 positions 2x faster; a lone sequence's
  // decode at 512 positions 1.2x); from cache asking only costs. Where the kernels do not ask
  // (kernel_table.hpp), each tile's values are asked for in a burst.
  int64_t positions = 0, earlier = 0;
  for (int64_t r = 0; r < runs; ++r) {
    const TokenPlace& first = places[run_starts_[r]];
    const TokenPlace& last = places[run_starts_[r + 1] - 1];
    const bool sequence_goes_on =
        r + 1 < runs && places[run_starts_[r + 1]].block_table == last.block_table;
    const bool sequence_starts =
        r == 0 || places[run_starts_[r] - 1].block_table != first.block_table;
    if (!sequence_goes_on) positions += last.position + 1;
    if (sequence_starts) earlier += first.position;
  }
  const int64_t kv_dim = static_cast<int64_t>(shape.kv_heads) * head_dim;
  from_memory_ = earlier > 0 ||
                 positions * kv_dim * 2 * static_cast<int64_t>(sizeof(uint16_t)) > kCachedKvBytes;
  ask_ahead_ = from_memory_ && kernels().attention_asks_ahead(block_size, head_dim);
  const int tasks_per_run = shape.heads / heads_;
  // Chunks become pieces of their own where the runs' groups are too few to share out among
  // the threads (a lone sequence's decode step); their states meet in fold().
  const bool split = runs * tasks_per_run < kPiecesPerThread * threads;
  const size_t state_floats = width() + 2 * static_cast<size_t>(heads_);  // per token
  pieces_.clear();
  folds_.clear();
  size_t state_size = 0;
  // The last runs first: a prompt's later tokens attend to more positions, and the pool's last
  // claims (halves taken from the back of a range) are its lightest tasks, so the threads
  // finish together.
  for (int64_t run = runs - 1; run >= 0; --run) {
    const int64_t t0 = run_starts_[static_cast<size_t>(run)];
    const int n = static_cast<int>(run_starts_[static_cast<size_t>(run) + 1] - t0);
    const int chunks = split ? chunks_for(places[t0].position + n) : 1;
    for (int task = 0; task < tasks_per_run; ++task) {
      if (chunks == 1) {
        pieces_.push_back({run, task * heads_, -1});
        continue;
      }
      folds_.push_back(pieces_.size());
      for (int c = 0; c < chunks; ++c) {
        pieces_.push_back({run, task * heads_, c, state_size});
        state_size += static_cast<size_t>(n) * state_floats;
      }
    }
  }
  states_.resize(state_size);
}

AttentionPieces::RunSpan AttentionPieces::run_of(const Piece& piece) const {
  const int64_t t0 = run_starts_[static_cast<size_t>(piece.run)];
  return {t0, static_cast<int>(run_starts_[static_cast<size_t>(piece.run) + 1] - t0)};
}

void AttentionPieces::write_out(const Piece& piece, const float* rows_out, float* out) const {
  const auto [t0, n] = run_of(piece);
  const size_t w = width();
  const int64_t q_stride = static_cast<int64_t>(shape_.heads) * shape_.head_dim;
  for (int j = 0; j < n; ++j) {
    const float* from = rows_out + j * w;
    std::copy(from, from + w, out + (t0 + j) * q_stride + piece.h * shape_.head_dim);
  }
}

namespace {

// Rows [0, rows) of a state laid out at `at`: outputs, then maximums, then sums.
RowsState state_at(float* at, int rows, int head_dim) {
  return RowsState{at, at + static_cast<size_t>(rows) * head_dim,
                   at + static_cast<size_t>(rows) * (head_dim + 1)};
}

}  // namespace

void AttentionPieces::attend(const PagedKvLayer& layer, const float* q, float* out, int64_t begin,
                             int64_t end) {
  const int head_dim = shape_.head_dim, bs = block_size_, heads = heads_, group = group_;
  const int64_t q_stride = static_cast<int64_t>(shape_.heads) * head_dim;
  const size_t w = width(), state_floats = w + 2 * static_cast<size_t>(heads);
  // Block b's run of a piece's KV head, keys and values, in the block table of its run's tokens.
  const auto key_run = [&](const TokenPlace& place, const Piece& piece, int b) {
    return layer.key_block(place.block_table[b]) + (piece.h / group) * head_dim * bs;
  };
  const auto value_run = [&](const TokenPlace& place, const Piece& piece, int b) {
    return layer.value_block(place.block_table[b], (piece.h / group) * head_dim);
  };
  // The runs of chunk `chunk`'s first tile of a piece's rows, which the tile before asks for.
  const auto first_tile_runs = [&](const Piece& piece, int chunk, std::vector<const char*>& into) {
    const auto [t0, n] = run_of(piece);
    const TokenPlace& place = places_[t0];
    const int first = chunk * kAttentionChunk;
    tile_runs(
        first, std::min(place.position + n, first + kAttentionTile), bs,
        [&](int b) { return key_run(place, piece, b); },
        [&](int b) { return value_run(place, piece, b); }, into);
  };
  thread_local std::vector<float> rows_q, scores, rows_state, chunk_state;
  thread_local std::vector<const uint16_t*> key_blocks, value_blocks;
  thread_local std::vector<const char*> after;  // the runs of the work after a chunk
  for (int64_t i = begin; i < end; ++i) {
    const Piece& piece = pieces_[static_cast<size_t>(i)];
    const RunSpan run = run_of(piece);  // named: lambdas below take n
    const int64_t t0 = run.first;
    const int n = run.tokens;
    const int rows = n * heads;
    rows_q.resize(n * w);
    scores.resize(static_cast<size_t>(rows * kAttentionTile));
    for (int j = 0; j < n; ++j) {
      const float* from = q + (t0 + j) * q_stride + piece.h * head_dim;
      std::copy(from, from + w, rows_q.begin() + static_cast<int64_t>(j * w));
    }
    const TokenPlace& place = places_[t0];
    const int32_t first_length = place.position + 1;
    const auto blocks = static_cast<size_t>((first_length + n - 1 + bs - 1) / bs);
    key_blocks.resize(blocks);
    value_blocks.resize(blocks);
    for (size_t b = 0; b < blocks; ++b) {
      key_blocks[b] = key_run(place, piece, static_cast<int>(b));
      value_blocks[b] = value_run(place, piece, static_cast<int>(b));
    }
    const int chunks = piece.chunk >= 0 ? 1 : chunks_for(first_length + n - 1);
    // Chunk `chunk` of the piece; the work after its last tile is the piece's next chunk, or
    // the next piece of this thread's range.
    const auto attend_one = [&](int chunk, const RowsState& state) {
      after.clear();  // nothing follows on this thread, or nothing is asked for
      if (ask_ahead_ && piece.chunk < 0 && chunk + 1 < chunks) {
        first_tile_runs(piece, chunk + 1, after);
      } else if (ask_ahead_ && i + 1 < end) {
        const Piece& next = pieces_[static_cast<size_t>(i + 1)];
        first_tile_runs(next, std::max(next.chunk, 0), after);
      }
      const bool asked = chunk > std::max(piece.chunk, 0) || i > begin;
      attend_chunk(rows_q.data(), n, heads, first_length, chunk, key_blocks.data(),
                   value_blocks.data(), bs, head_dim, shape_.scale,
                   Ahead{from_memory_, ask_ahead_, asked, after}, scores.data(), state);
    };
    if (piece.chunk >= 0) {  // its state waits for the others of its rows
      attend_one(piece.chunk, state_at(states_.data() + piece.state, rows, head_dim));
      continue;
    }
    rows_state.resize(static_cast<size_t>(n) * state_floats);
    chunk_state.resize(rows_state.size());
    const RowsState state = state_at(rows_state.data(), rows, head_dim);
    attend_one(0, state);
    for (int c = 1; c < chunks; ++c) {
      attend_one(c, state_at(chunk_state.data(), rows, head_dim));
      fold_chunk(rows, head_dim, state, state_at(chunk_state.data(), rows, head_dim));
    }
    normalize(rows, head_dim, state);
    write_out(piece, state.out, out);
  }
}

void AttentionPieces::fold(float* out, int64_t begin, int64_t end) {
  const int head_dim = shape_.head_dim;
  for (int64_t f = begin; f < end; ++f) {
    size_t i = folds_[static_cast<size_t>(f)];
    const Piece& first = pieces_[i];
    const int rows = run_of(first).tokens * heads_;
    const RowsState state = state_at(states_.data() + first.state, rows, head_dim);
    for (++i; i < pieces_.size() && pieces_[i].chunk > 0; ++i) {
      fold_chunk(rows, head_dim, state,
                 state_at(states_.data() + pieces_[i].state, rows, head_dim));
    }
    normalize(rows, head_dim, state);
    write_out(first, state.out, out);
  }
}

void paged_attention(ThreadPool& pool, const AttentionShape& shape, const PagedKvLayer& layer,
                     const float* q, const TokenPlace* places, int64_t tokens, float* out) {
  thread_local AttentionPieces callers;
  // Named here: in the pool's lambda a thread_local would be each worker's own.
  AttentionPieces& step = callers;
  const int threads = AttentionPieces::caller_alone(places, tokens) ? 1 : pool.size();
  step.plan(shape, layer.block_size, places, tokens, threads);
  if (threads == 1) {
    step.attend(layer, q, out, 0, step.pieces());
  } else {
    pool.parallel_for(step.pieces(),
                      [&](int64_t begin, int64_t end) { step.attend(layer, q, out, begin, end); });
  }
  step.fold(out, 0, step.folds());
}

}  // namespace troupe
