// What a device pass reads of a step (engine/device/step_indices): per-token slots, table starts
// and attention lengths, logit and hidden rows, flattened block tables, packed at offsets that
// depend only on the layout's capacities; malformed batches refused.
#include <catch2/catch.hpp>

#include <stdexcept>
#include <vector>

#include "engine/device/step_indices.hpp"

using namespace troupe;

TEST_CASE("step indices: a prefill chunk beside two decodes, in the device's terms") {
  const std::vector<int32_t> prompt = {5, 6, 7}, one = {8}, other = {9};
  const std::vector<int32_t> table_a = {4, 2}, table_b = {7}, table_c = {1, 3, 0};
  const SequenceChunk batch[] = {
      {prompt, 14, table_a, ChunkLogits::last, true},  // positions 14, 15 (block 4), 16 (block 2)
      {one, 0, table_b, ChunkLogits::every},
      {other, 40, table_c, ChunkLogits::none}};  // position 40: block 0 (table_c[2]), slot 8
  const StepIndices s = step_indices(batch, 16, 8, 100);
  CHECK(s.ids == std::vector<int32_t>{5, 6, 7, 8, 9});
  CHECK(s.positions == std::vector<int32_t>{14, 15, 16, 0, 40});
  CHECK(s.slots == std::vector<int32_t>{4 * 16 + 14, 4 * 16 + 15, 2 * 16 + 0, 7 * 16, 0 * 16 + 8});
  CHECK(s.tables == std::vector<int32_t>{4, 2, 7, 1, 3, 0});
  CHECK(s.table_start == std::vector<int32_t>{0, 0, 0, 2, 3});
  CHECK(s.lengths == std::vector<int32_t>{15, 16, 17, 1, 41});
  CHECK(s.logit_rows == std::vector<int32_t>{2, 3});
  CHECK(s.hidden_rows == std::vector<int32_t>{0, 1, 2});

  // Packed at the layout's offsets, whatever this step's sizes: a graph reads them there.
  const IndexLayout layout{8, 10};
  std::vector<int32_t> packed;
  pack(s, layout, packed);
  REQUIRE(packed.size() == static_cast<size_t>(6 * 8 + 10));
  CHECK(packed[layout.ids() + 4] == 9);
  CHECK(packed[layout.slots() + 2] == 32);
  CHECK(packed[layout.lengths() + 4] == 41);
  CHECK(packed[layout.logit_rows() + 1] == 3);
  CHECK(packed[layout.hidden_rows() + 2] == 2);
  CHECK(packed[layout.table_entries() + 5] == 0);
  CHECK(packed[layout.ids() + 5] == 0);  // past the step: zeros
  CHECK_THROWS_AS(pack(s, IndexLayout{4, 10}, packed), std::logic_error);
  CHECK_THROWS_AS(pack(s, IndexLayout{8, 5}, packed), std::logic_error);
}

TEST_CASE("step indices: malformed batches are refused") {
  const std::vector<int32_t> tokens = {1, 2}, empty = {}, table = {0}, bad_block = {9};
  const auto refused = [](const SequenceChunk& chunk) {
    CHECK_THROWS_AS(step_indices(std::span(&chunk, 1), 16, 8, 100), std::logic_error);
  };
  refused({empty, 0, table});
  refused({tokens, 15, table});  // position 16 needs a second block
  refused({tokens, 0, bad_block});
  const std::vector<int32_t> outside = {100};
  refused({outside, 0, table});
}
