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
    CHECK(part.weights.output.rows == c.vocab_size);  // whole on every rank
  }
}

TEST_CASE("a model that does not divide among the ranks is refused, naming what does not divide") {
  const std::string path = test::write_tiny_model("shard-odd", {.heads = 4, .kv_heads = 2});
  CHECK_THAT(load_model(path, {0, 4}).message(), Catch::Contains("2 KV heads"));
  CHECK_THAT(load_model(path, {0, 3}).message(), Catch::Contains("4 attention heads"));
  CHECK_THAT(load_model(path, {2, 2}).message(), Catch::Contains("outside a group of 2"));
  // Four ranks of 16 query features each: attn_output's Q4_1 blocks of 32 columns would be cut.
  const std::string even = test::write_tiny_model("shard-even", {.heads = 4, .kv_heads = 4});
  CHECK_THAT(load_model(even, {0, 4}).message(), Catch::Contains("blocks of 32"));
  CHECK(load_model(even, {1, 2}).ok());
}
