#pragma once
// A packed group's worth of lines from some byte on (the next group, which this thread most
// likely computes next as parallel_for hands out runs of groups; or a lone token's stream
// distance past this one), asked for a share each block while a kernel computes this group. For
// the variant files only (packed_rows_avx512.cpp, packed_rows_amx.cpp); internal linkage, so no
// copy of it is shared with other files.
#include <xmmintrin.h>

#include <cstdint>

namespace troupe {
namespace {

class GroupLinesAhead {
 public:
  // `from`: the first byte asked for, or null to ask for nothing; `group_bytes` lines' worth,
  // shared out over `blocks` blocks.
  GroupLinesAhead(const char* from, int64_t group_bytes, int64_t blocks)
      : from_(from),
        lines_(from ? group_bytes / 64 : 0),
        per_block_((lines_ + blocks - 1) / blocks) {}

  // Block `block`'s share of the lines.
  void ask(int64_t block) const {
    const int64_t first = block * per_block_;
    const int64_t end = first + per_block_ < lines_ ? first + per_block_ : lines_;
    for (int64_t line = first; line < end; ++line) _mm_prefetch(from_ + 64 * line, _MM_HINT_T0);
  }

 private:
  const char* from_;
  int64_t lines_, per_block_;
};

}  // namespace
}  // namespace troupe
