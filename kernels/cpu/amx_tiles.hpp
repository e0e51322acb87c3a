#pragma once
// The tile registers' shapes of the AMX kernels (*_amx.cpp), loaded by a thread when a kernel
// needs other shapes than those it has (LDTILECFG zeroes every tile): in a process serving one
// model the products usually all take the same ones, so a thread loads them once. Included only by
// files compiled for AMX.

namespace troupe::amx {

constexpr int kTileTokens = 16;  // tokens of a tile product: rows of A and of the sums
constexpr int kTileRowBytes = 64;

// GCC's tile intrinsics paste their tile numbers into the assembly as written, so the kernels
// spell them out; these say which is which.
enum class TileShapes {
  // AMX-INT8 (packed_rows_amx.cpp): tmm0 the sums (16 tokens x 16 rows of int32), tmm2 the
  // activations (16 tokens x 32 bytes), tmm4 a block's weights (8 quads of columns x 16 rows x
  // 4 bytes).
  int8_blocks,
  // AMX-BF16 (packed_bf16_amx.cpp), every tile 16 x 64 bytes: tmm0-3 the sums of 2 x 16 tokens
  // times a group's two halves of 16 rows (FP32), tmm4 and tmm5 the two tokens' tiles of
  // activations (32 BF16 each), tmm6 and tmm7 the two halves' weights (16 column pairs x 16
  // rows x 2 BF16).
  bf16_pairs,
};

// Loads `shapes` into this thread's tile configuration unless they are already there
// (amx_tiles_amx.cpp).
void use_tiles(TileShapes shapes);

}  // namespace troupe::amx
