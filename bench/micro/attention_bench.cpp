// paged_attention in an F16 cache, with SmolLM2-135M's heads (9 query heads sharing 3 KV heads of
// 64). At decode: 32 sequences (or 1), one new token each, attending over their whole context;
// decode_32_sequences reads one layer's cache again and again, from cache; the _30_layers rows
// go through 30 layers' caches in turn, from DRAM, as a decode step does (a lone sequence's
// positions in chunks spread over the threads). At prefill: one
// sequence's whole prompt in one step, each token attending to itself and the tokens before it.
#include <algorithm>
#include <map>
#include <memory>

#include "bench/micro/common.hpp"
#include "kernels/cpu/huge_page_arena.hpp"
#include "kernels/cpu/paged_attention.hpp"

namespace troupe::micro {

namespace {

constexpr int kBlockSize = 16;
constexpr AttentionShape kShape{9, 3, 64, 0.125f};  // scale 1 / sqrt(64)
constexpr int kKvDim = 3 * 64;
constexpr int kQDim = 9 * 64;

// One layer's cache holding each of `sequences` sequences' `context` positions.
struct Cache {
  // On huge pages, as the engine's KV cache is (engine/kv/kv_cache.hpp).
  std::unique_ptr<HugePageArena> memory;
  std::vector<int32_t> tables;  // [sequence][context / block size]
  PagedKvLayer layer;
  std::vector<TokenPlace> places;  // each sequence's newest position
};

std::unique_ptr<Cache> make_cache(int context, int sequences) {
  auto c = std::make_unique<Cache>();
  const int blocks_per_sequence = context / kBlockSize;
  const int blocks = sequences * blocks_per_sequence;
  const auto bytes = static_cast<size_t>(blocks) * kBlockSize * kKvDim * sizeof(uint16_t);
  c->memory = std::make_unique<HugePageArena>(2 * bytes);
  auto* keys = reinterpret_cast<uint16_t*>(c->memory->take(bytes));
  auto* values = reinterpret_cast<uint16_t*>(c->memory->take(bytes));
  c->layer = PagedKvLayer{keys, values, kBlockSize, kKvDim, kShape.head_dim};
  // Blocks handed out in random order, as a cache that has served a while scatters them.
  c->tables.resize(static_cast<size_t>(blocks));
  for (int b = 0; b < blocks; ++b) c->tables[static_cast<size_t>(b)] = b;
  std::shuffle(c->tables.begin(), c->tables.end(), rng());
  // A pool of random rows, reused: what the values are does not change the speed.
  constexpr int kRows = 1021;
  const std::vector<float> rows = random_floats(int64_t{kRows} * kKvDim);
  for (int s = 0; s < sequences; ++s) {
    const int32_t* table = c->tables.data() + s * blocks_per_sequence;
    for (int p = 0; p < context; ++p) {
      const float* k = rows.data() + (s * context + p) % kRows * kKvDim;
      const float* v = rows.data() + (s * context + p + 1) % kRows * kKvDim;
      store_kv(c->layer, TokenPlace{table, p}, k, v);
    }
    c->places.push_back(TokenPlace{table, context - 1});
  }
  return c;
}

// Built once per (context, sequences).
const Cache& cache(int context, int sequences) {
  static std::map<std::pair<int, int>, std::unique_ptr<Cache>> built;
  auto& c = built[{context, sequences}];
  if (!c) c = make_cache(context, sequences);
  return *c;
}

void bench_attention(benchmark::State& state, int layers, int sequences) {
  const int context = static_cast<int>(state.range(0));
  std::vector<std::unique_ptr<Cache>> caches;
  for (int l = 1; l < layers; ++l) caches.push_back(make_cache(context, sequences));
  std::vector<const Cache*> in_turn{&cache(context, sequences)};
  for (const auto& c : caches) in_turn.push_back(c.get());
  const std::vector<float> q = random_floats(int64_t{sequences} * kQDim);
  std::vector<float> out(q.size());
  ThreadPool& pool = bench_pool();
  const auto attend = [&](const Cache& c) {
    paged_attention(pool, kShape, c.layer, q.data(), c.places.data(), sequences, out.data());
  };
  attend(*in_turn.front());

  size_t next = 0;
  const double seconds = timed_loop(state, [&] {
    attend(*in_turn[next]);
    next = (next + 1) % in_turn.size();
    benchmark::DoNotOptimize(out.data());
  });
  // Every position's key and value row, 2 bytes a value; per query head a dot product with
  // each key and a multiply-add of each value row (the softmax is a rounding error beside them).
  const double positions = static_cast<double>(sequences) * context;
  const double bytes = positions * 2 * kKvDim * sizeof(uint16_t);
  const double flops = positions * kShape.heads * kShape.head_dim * 4.0;
  set_kernel_counters(state, bytes, flops, seconds);
}

void bench_prefill(benchmark::State& state) {
  const int prompt = static_cast<int>(state.range(0));
  const int blocks = prompt / kBlockSize;
  std::vector<uint16_t> keys(static_cast<size_t>(blocks) * kBlockSize * kKvDim);
  std::vector<uint16_t> values(keys.size());
  const PagedKvLayer layer{keys.data(), values.data(), kBlockSize, kKvDim, kShape.head_dim};
  std::vector<int32_t> table(static_cast<size_t>(blocks));
  for (int b = 0; b < blocks; ++b) table[static_cast<size_t>(b)] = b;
  const std::vector<float> rows = random_floats(int64_t{prompt} * kKvDim);
  std::vector<TokenPlace> places;
  for (int p = 0; p < prompt; ++p) {
    const float* row = rows.data() + int64_t{p} * kKvDim;
    store_kv(layer, TokenPlace{table.data(), p}, row, row);
    places.push_back(TokenPlace{table.data(), p});
  }
  const std::vector<float> q = random_floats(int64_t{prompt} * kQDim);
  std::vector<float> out(q.size());
  ThreadPool& pool = bench_pool();
  const double seconds = timed_loop(state, [&] {
    paged_attention(pool, kShape, layer, q.data(), places.data(), prompt, out.data());
    benchmark::DoNotOptimize(out.data());
  });
  // Token p meets p + 1 positions: per query head a dot product and a value row's multiply-add.
  const double pairs = static_cast<double>(prompt) * (prompt + 1) / 2;
  const double bytes = static_cast<double>(prompt) * 2 * kKvDim * sizeof(uint16_t);
  set_kernel_counters(state, bytes, pairs * kShape.heads * kShape.head_dim * 4.0, seconds);
}

}  // namespace

void register_attention_benchmarks() {
  benchmark::RegisterBenchmark("paged_attention/prefill", bench_prefill)
      ->ArgName("prompt")
      ->Arg(512)
      ->UseManualTime()
      ->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("paged_attention/decode_32_sequences", bench_attention, 1, 32)
      ->ArgName("context")
      ->Arg(128)
      ->Arg(512)
      ->Arg(2048)
      ->UseManualTime()
      ->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("paged_attention/decode_32_sequences_30_layers", bench_attention, 30,
                               32)
      ->ArgName("context")
      ->Arg(192)
      ->UseManualTime()
      ->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("paged_attention/decode_1_sequence_30_layers", bench_attention, 30,
                               1)
      ->ArgName("context")
      ->Arg(2048)
      ->UseManualTime()
      ->Unit(benchmark::kMicrosecond);
}

}  // namespace troupe::micro
