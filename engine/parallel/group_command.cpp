#include "engine/parallel/group_command.hpp"

#include <stdexcept>

namespace troupe::parallel {
namespace {

constexpr int32_t kWordsPerChunk = 4;  // tokens, start, block-table length, logits

int32_t length(size_t n) {
  return static_cast<int32_t>(n);
}

}  // namespace

void encode_batch(std::span<const SequenceChunk> batch, std::vector<int32_t>& words) {
  words.assign(1, length(batch.size()));
  for (const SequenceChunk& c : batch) {
    words.insert(words.end(), {length(c.tokens.size()), c.start_position,
                               length(c.block_table.size()), static_cast<int32_t>(c.logits)});
  }
  for (const SequenceChunk& c : batch) words.insert(words.end(), c.tokens.begin(), c.tokens.end());
  for (const SequenceChunk& c : batch)
    words.insert(words.end(), c.block_table.begin(), c.block_table.end());
}

std::vector<SequenceChunk> decode_batch(std::span<const int32_t> words) {
  const auto malformed = [] { return std::logic_error("decode_batch: a malformed batch"); };
  if (words.empty() || words[0] < 0) throw malformed();
  const auto chunks = static_cast<size_t>(words[0]);
  if (words.size() < 1 + chunks * kWordsPerChunk) throw malformed();
  std::vector<SequenceChunk> batch(chunks);
  size_t next = 1 + chunks * kWordsPerChunk;
  const auto take = [&](int32_t count) {
    if (count < 0 || words.size() - next < static_cast<size_t>(count)) throw malformed();
    const auto part = words.subspan(next, static_cast<size_t>(count));
    next += part.size();
    return part;
  };
  for (size_t i = 0; i < chunks; ++i) {
    const int32_t* fields = &words[1 + i * kWordsPerChunk];
    const int32_t logits = fields[3];
    if (logits < static_cast<int32_t>(ChunkLogits::last) ||
        logits > static_cast<int32_t>(ChunkLogits::none))
      throw malformed();
    batch[i].tokens = take(fields[0]);
    batch[i].start_position = fields[1];
    batch[i].logits = static_cast<ChunkLogits>(logits);
  }
  for (size_t i = 0; i < chunks; ++i)
    batch[i].block_table = take(words[1 + i * kWordsPerChunk + 2]);
  if (next != words.size()) throw malformed();
  return batch;
}

}  // namespace troupe::parallel
