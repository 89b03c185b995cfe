// Packing and unpacking of the 16-row Q4_K layout (packed_q4_k.h). Scalar
// on purpose: it runs once per weight at load (about 1 GB/s per core) and,
// for prompts on a packed weight, once per 16-row block per matmul call,
// amortized over the prompt's tokens.
#include "kernels/cpu/packed_q4_k.h"

#include <cstring>

#include "tensor/blocks.h"

namespace frugal::kernels {
namespace {

using tensor::BlockQ4_K;

constexpr int kGroups = 8;  // 32-element groups per super-block
constexpr uint64_t kScLo = 64, kMnLo = 128, kScHi = 192, kMnHi = 224, kCodes = 256;

static_assert(sizeof(BlockQ4_K) * kQ4KPackRows == kQ4KTileBytes);

int sc_index(int g, int r) {
  return 16 * g + r;
}
int mn_index(int g, int r) {
  return 32 * (g / 2) + 2 * r + g % 2;
}

// 6-bit value v of a tile's scale (lo = kScLo, hi = kScHi) or min table.
void put6(uint8_t* t, uint64_t lo, uint64_t hi, int v, uint8_t x) {
  t[lo + v % 64] |= static_cast<uint8_t>((x & 15) << (4 * (v / 64)));
  t[hi + 16 * (v / 64) + v % 16] |= static_cast<uint8_t>((x >> 4) << (2 * ((v % 64) / 16)));
}
uint8_t get6(const uint8_t* t, uint64_t lo, uint64_t hi, int v) {
  const int low = (t[lo + v % 64] >> (4 * (v / 64))) & 15;
  const int top = (t[hi + 16 * (v / 64) + v % 16] >> (2 * ((v % 64) / 16))) & 3;
  return static_cast<uint8_t>(low | (top << 4));
}

// One row's block from tile t: the inverse of the per-row part of pack.
void unpack_block(const uint8_t* t, int r, BlockQ4_K& b) {
  std::memcpy(&b.d, t + 2 * r, 2);
  std::memcpy(&b.dmin, t + 32 + 2 * r, 2);
  uint8_t sc[kGroups], mn[kGroups];
  for (int g = 0; g < kGroups; ++g) {
    sc[g] = get6(t, kScLo, kScHi, sc_index(g, r));
    mn[g] = get6(t, kMnLo, kMnHi, mn_index(g, r));
  }
  // Q4_K's 12-byte packing (tensor::k4_scale_min reads it back).
  for (int j = 0; j < 4; ++j) {
    b.scales[j] = static_cast<uint8_t>(sc[j] | ((sc[j + 4] >> 4) << 6));
    b.scales[j + 4] = static_cast<uint8_t>(mn[j] | ((mn[j + 4] >> 4) << 6));
    b.scales[j + 8] = static_cast<uint8_t>((sc[j + 4] & 15) | ((mn[j + 4] & 15) << 4));
  }
  // Plain: group g's element j is nibble g % 2 of qs[32 (g / 2) + j]. Four
  // codes at a time as 32-bit words (prompts unpack every packed row group
  // once per matmul call, so this runs often enough to matter: byte by byte
  // it cost the 1.5B Q4_K_M 12 % of its pp512).
  uint32_t q[kGroups / 2][8] = {};  // [pair of groups][32 bytes as words]
  for (int g = 0; g < kGroups; ++g) {
    const int shift = 4 * (g % 2);
    for (int c = 0; c < 4; ++c) {
      uint32_t word;
      std::memcpy(&word, t + kCodes + (4 * g + c) * 64 + 4 * r, 4);
      q[g / 2][c] |= (word & 0x0F0F0F0Fu) << shift;             // elements 4c..4c+3
      q[g / 2][4 + c] |= ((word >> 4) & 0x0F0F0F0Fu) << shift;  // elements 16+4c..
    }
  }
  std::memcpy(b.qs, q, sizeof(b.qs));
}

}  // namespace

void pack_q4_k_x16(const uint8_t* rows, uint64_t row_bytes, int64_t nb, uint8_t* dst) {
  for (int64_t i = 0; i < nb; ++i) {
    uint8_t* t = dst + static_cast<uint64_t>(i) * kQ4KTileBytes;
    std::memset(t, 0, kCodes);
    for (int r = 0; r < kQ4KPackRows; ++r) {
      const BlockQ4_K& b = reinterpret_cast<const BlockQ4_K*>(rows + r * row_bytes)[i];
      std::memcpy(t + 2 * r, &b.d, 2);
      std::memcpy(t + 32 + 2 * r, &b.dmin, 2);
      for (int g = 0; g < kGroups; ++g) {
        uint8_t sc = 0, mn = 0;
        tensor::k4_scale_min(g, b.scales, &sc, &mn);
        put6(t, kScLo, kScHi, sc_index(g, r), sc);
        put6(t, kMnLo, kMnHi, mn_index(g, r), mn);
      }
      // Four codes at a time as 32-bit words, as unpack_block.
      for (int g = 0; g < kGroups; ++g) {
        const uint8_t* q = b.qs + 32 * (g / 2);
        const int shift = 4 * (g % 2);
        for (int c = 0; c < 4; ++c) {
          uint32_t lo, hi;  // elements 4c..4c+3 and 16+4c.. of group g, one nibble each
          std::memcpy(&lo, q + 4 * c, 4);
          std::memcpy(&hi, q + 16 + 4 * c, 4);
          const uint32_t word =
              ((lo >> shift) & 0x0F0F0F0Fu) | (((hi >> shift) & 0x0F0F0F0Fu) << 4);
          std::memcpy(t + kCodes + (4 * g + c) * 64 + 4 * r, &word, 4);
        }
      }
    }
  }
}

void unpack_q4_k_x16(const uint8_t* tiles, int64_t nb, uint8_t* dst, uint64_t row_bytes) {
  for (int r = 0; r < kQ4KPackRows; ++r) unpack_row_q4_k_x16(tiles, nb, r, dst + r * row_bytes);
}

void unpack_row_q4_k_x16(const uint8_t* tiles, int64_t nb, int r, uint8_t* dst) {
  auto* out = reinterpret_cast<BlockQ4_K*>(dst);
  for (int64_t i = 0; i < nb; ++i)
    unpack_block(tiles + static_cast<uint64_t>(i) * kQ4KTileBytes, r, out[i]);
}

}  // namespace frugal::kernels
