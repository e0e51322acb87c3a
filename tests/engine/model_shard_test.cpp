// Loading one tensor-parallel rank's slices of a model: each matrix views the right bytes of the
// file, and models that do not divide among the ranks are refused with the reason.
#include <catch2/catch.hpp>

#include "engine/model/model.hpp"
#include "tests/support/tiny_model.hpp"

using namespace troupe;

namespace {

Model load(const test::TinyModelOptions& options, const ShardSpec& shard) {
  auto m = load_model(test::write_tiny_model("shard", options), shard);
  REQUIRE(m.ok());
  return std::move(*m);
}

}  // namespace

TEST_CASE("a rank's shard views its rows of Q/K/V/gate/up and its columns of O/down") {
  const test::TinyModelOptions options{.architecture = "qwen2", .feed_forward = 128};  // biases
  const Model whole = load(options, {});
  const ModelConfig& c = whole.config;
  for (int rank : {0, 1}) {
    const Model part = load(options, {rank, 2});
    INFO("rank " << rank);
    CHECK(part.weights.shard == ShardSpec{rank, 2});
    CHECK(part.config.heads == c.heads);  // the config keeps the whole model's shape
    const int64_t q = c.q_dim() / 2, kv = c.kv_dim() / 2, ff = c.feed_forward_dim / 2;
    for (size_t l = 0; l < whole.weights.layers.size(); ++l) {
      const LayerWeights& w = whole.weights.layers[l];
      const LayerWeights& p = part.weights.layers[l];
      const LayerWeights& base = whole.weights.layers[l];
      CHECK(p.wq.rows == q);
      CHECK(p.wq.cols == c.embedding_dim);
      CHECK(p.wk.rows == kv);
      CHECK(p.wv.rows == kv);
      CHECK(p.w_gate.rows == ff);
      CHECK(p.w_up.rows == ff);
      CHECK(p.wo.rows == c.embedding_dim);
      CHECK(p.wo.cols == q);
      CHECK(p.w_down.cols == ff);
      CHECK(p.wo.row_stride == w.wo.row_stride);
      CHECK(p.w_down.row_stride == w.w_down.row_stride);
      // The same bytes as the whole model's rows / columns at the rank's offset.
      CHECK(std::equal(p.wq.row(0), p.wq.row(0) + row_bytes(p.wq.type, p.wq.cols),
                       base.wq.row(rank * q)));
      CHECK(std::equal(p.w_up.row(ff - 1), p.w_up.row(ff - 1) + row_bytes(p.w_up.type, p.w_up.cols),
                       base.w_up.row(rank * ff + ff - 1)));
      for (int64_t r : {0, c.embedding_dim - 1}) {
        const std::byte* mine = p.wo.row(r);
        const std::byte* theirs = base.wo.row(r) + row_bytes(base.wo.type, rank * q);
        CHECK(std::equal(mine, mine + row_bytes(p.wo.type, q), theirs));
        const std::byte* down = p.w_down.row(r);
        const std::byte* whole_down = base.w_down.row(r) + row_bytes(base.w_down.type, rank * ff);
        CHECK(std::equal(down, down + row_bytes(p.w_down.type, ff), whole_down));
      }
      CHECK(std::equal(p.bq, p.bq + q, base.bq + rank * q));
      CHECK(std::equal(p.bk, p.bk + kv, base.bk + rank * kv));
      CHECK(std::equal(p.attention_norm, p.attention_norm + c.embedding_dim, w.attention_norm));
    }
    // The output matrix split by vocabulary rows: 265 entries, 133 and 132.
    const int64_t share = (c.vocab_size + 1) / 2;
    CHECK(part.weights.output.rows == (rank == 0 ? share : c.vocab_size - share));
    const WeightMatrix& out = part.weights.output;
    CHECK(std::equal(out.row(0), out.row(0) + row_bytes(out.type, out.cols),
                     whole.weights.token_embedding.row(rank * share)));
  }
}

TEST_CASE("a model that does not divide among the ranks is refused, naming what does not divide") {
  const std::string path = test::write_tiny_model("shard-odd", {.heads = 4, .kv_heads = 2});
  CHECK_THAT(load_model(path, {0, 3}).message(),
             Catch::Contains("4 attention heads, 2 KV heads and 96 feed-forward features"));
  const std::string odd_features =
      test::write_tiny_model("shard-odd-ff", {.heads = 4, .kv_heads = 2, .feed_forward = 66});
  CHECK_THAT(load_model(odd_features, {0, 4}).message(),
             Catch::Contains("66 feed-forward features do not split among 4"));
  CHECK_THAT(load_model(path, {2, 2}).message(), Catch::Contains("outside a group of 2"));
  // Four ranks of 16 query features each: attn_output's Q4_1 blocks of 32 columns would be cut.
  const std::string even =
      test::write_tiny_model("shard-even", {.heads = 4, .kv_heads = 4, .feed_forward = 128});
  CHECK_THAT(load_model(even, {0, 4}).message(), Catch::Contains("blocks of 32"));
  CHECK(load_model(even, {1, 2}).ok());
}

TEST_CASE("fewer KV heads than ranks: each rank keeps the one its query heads read") {
  // 8 query heads of 32 over 2 KV heads, 4 ranks: ranks 0 and 1 read KV head 0, 2 and 3 head 1.
  const test::TinyModelOptions options{
      .embedding = 256, .heads = 8, .kv_heads = 2, .feed_forward = 256};
  const Model whole = load(options, {});
  const LayerWeights& base = whole.weights.layers[0];
  for (int rank = 0; rank < 4; ++rank) {
    const Model part = load(options, {rank, 4});
    INFO("rank " << rank);
    const LayerWeights& p = part.weights.layers[0];
    CHECK(p.wk.rows == 32);
    const auto same_row = [](const WeightMatrix& m, int64_t r, const WeightMatrix& whole_m,
                             int64_t whole_r) {
      return std::equal(m.row(r), m.row(r) + row_bytes(m.type, m.cols), whole_m.row(whole_r));
    };
    CHECK(same_row(p.wk, 0, base.wk, 32 * (rank / 2)));
    CHECK(same_row(p.wv, 31, base.wv, 32 * (rank / 2) + 31));
    CHECK(rank_config(whole.config, {rank, 4}).kv_heads == 1);
    CHECK(rank_config(whole.config, {rank, 4}).heads == 2);
  }
}
