// The tile configuration of amx_tiles.hpp, in one file: its thread's record of what is loaded
// must be one variable (an inline function's would be a weak symbol in every file using it).
#include <immintrin.h>

#include <cstdint>

#include "kernels/cpu/amx_tiles.hpp"

namespace troupe::amx {
namespace {

// LDTILECFG's 64-byte operand (palette 1).
struct alignas(64) TileConfig {
  uint8_t palette;
  uint8_t start_row;
  uint8_t reserved[14];
  uint16_t bytes_per_row[16];
  uint8_t rows[16];
};

void set_tile(TileConfig& config, int tile, int rows, int bytes_per_row) {
  config.rows[tile] = static_cast<uint8_t>(rows);
  config.bytes_per_row[tile] = static_cast<uint16_t>(bytes_per_row);
}

constexpr int kNone = -1;
thread_local int loaded = kNone;

}  // namespace

void use_tiles(TileShapes shapes) {
  if (loaded == static_cast<int>(shapes)) return;
  TileConfig config = {};
  config.palette = 1;
  if (shapes == TileShapes::int8_blocks) {
    set_tile(config, 0, kTileTokens, kTileRowBytes);
    set_tile(config, 2, kTileTokens, 32);
    set_tile(config, 4, 8, kTileRowBytes);
  } else {
    for (int tile = 0; tile < 8; ++tile) set_tile(config, tile, kTileTokens, kTileRowBytes);
  }
  // GCC 12's _tile_loadconfig tells the compiler it reads 8 bytes of its operand, so the stores
  // above it may be dropped as dead: this empty statement reads all 64.
  __asm__ volatile("" : : "m"(config));
  _tile_loadconfig(&config);
  loaded = static_cast<int>(shapes);
}

}  // namespace troupe::amx
