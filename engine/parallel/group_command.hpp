#pragma once
// What a group's leader (rank 0) sends the other ranks before each call of its forward pass, so
// that every rank runs the same batch at the same time (as vLLM's driver broadcasts its
// scheduler's output). A fixed header first — which call, and how long the payload is — then,
// for a forward, the batch as int32 words: the chunk count, each chunk's token count, start,
// block-table length and logits, then every chunk's tokens, then every block table.
#include <cstdint>
#include <span>
#include <vector>

#include "engine/device/forward_pass.hpp"

namespace troupe::parallel {

enum class GroupCall : int32_t { forward = 1, copy_block = 2, stop = 3, report = 4 };

struct CommandHeader {
  GroupCall call = GroupCall::stop;
  int32_t payload_words = 0;  // forward: the encoded batch's length
  int32_t from = 0;           // copy_block: the blocks
  int32_t to = 0;
};

// The batch as words, into `words` (replaced; its memory reused).
void encode_batch(std::span<const SequenceChunk> batch, std::vector<int32_t>& words);

// The batch `words` encodes; its chunks view `words`, which must outlive them. Throws
// std::logic_error on words that are not a whole batch (lengths that do not add up).
std::vector<SequenceChunk> decode_batch(std::span<const int32_t> words);

}  // namespace troupe::parallel
