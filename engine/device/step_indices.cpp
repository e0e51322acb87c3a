#include "engine/device/step_indices.hpp"

#include <algorithm>
#include <stdexcept>

namespace troupe {

StepIndices step_indices(std::span<const SequenceChunk> batch, int block_size, int blocks,
                         int vocab_size) {
  StepIndices s;
  for (const SequenceChunk& chunk : batch) {
    const auto n = static_cast<int32_t>(chunk.tokens.size());
    const auto needed =
        static_cast<size_t>((chunk.start_position + n + block_size - 1) / block_size);
    if (n == 0 || chunk.block_table.size() < needed)
      throw std::logic_error("forward: empty chunk or short block table");
    const auto start = static_cast<int32_t>(s.tables.size());
    for (size_t b = 0; b < needed; ++b) {
      const int32_t block = chunk.block_table[b];
      if (block < 0 || block >= blocks) throw std::logic_error("forward: block outside the cache");
      s.tables.push_back(block);
    }
    for (int32_t i = 0; i < n; ++i) {
      const int32_t id = chunk.tokens[static_cast<size_t>(i)];
      if (id < 0 || id >= vocab_size) throw std::logic_error("forward: token id out of range");
      const int32_t position = chunk.start_position + i;
      const auto row = static_cast<int32_t>(s.ids.size());
      s.ids.push_back(id);
      s.positions.push_back(position);
      s.slots.push_back(chunk.block_table[static_cast<size_t>(position / block_size)] * block_size +
                        position % block_size);
      s.table_start.push_back(start);
      s.lengths.push_back(position + 1);
      if (chunk.logits == ChunkLogits::every || (chunk.logits == ChunkLogits::last && i == n - 1))
        s.logit_rows.push_back(row);
      if (chunk.hidden) s.hidden_rows.push_back(row);
    }
  }
  return s;
}

void pack(const StepIndices& s, const IndexLayout& layout, std::vector<int32_t>& out) {
  if (!layout.holds(s)) throw std::logic_error("pack: the layout is too small for the step");
  out.assign(static_cast<size_t>(layout.size()), 0);
  const auto put = [&](const std::vector<int32_t>& part, int64_t at) {
    std::copy(part.begin(), part.end(), out.begin() + at);
  };
  put(s.ids, layout.ids());
  put(s.slots, layout.slots());
  put(s.table_start, layout.table_start());
  put(s.lengths, layout.lengths());
  put(s.logit_rows, layout.logit_rows());
  put(s.hidden_rows, layout.hidden_rows());
  put(s.tables, layout.table_entries());
}

}  // namespace troupe
