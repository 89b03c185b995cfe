// Q4_K weights repacked at load for decode: 16 rows interleaved so that one
// SIMD register holds the same 4 elements of 16 rows (rows in lanes). A
// decode kernel then multiplies a whole register of codes by one broadcast
// activation word (VPDPBUSD) and needs no per-row reduction or scale
// shuffling, and each thread reads one sequential stream instead of 16 row
// streams. The layout holds exactly the bytes of the 16 rows it replaces
// (2304 per super-block column), so a weight keeps its size and row offsets
// (rows r.. r + 15 start at r * row_bytes), and it is a bijection: unpacking
// gives back the file's bytes.
//
// One tile = 16 rows x 1 super-block (256 elements), tile(R, i) at byte
// (R * nb + i) * kQ4KTileBytes for row group R (rows 16R..16R+15) and
// super-block i of nb. Within a tile (v = value index, r = row 0..15):
//   [0, 32)      d[16]     f16, row r at 2r
//   [32, 64)     dmin[16]  f16
//   [64, 128)    low 4 bits of the 128 scales, value v = 16 g + r (group g):
//                byte v % 64, nibble v / 64 (low nibble for v < 64)
//   [128, 192)   low 4 bits of the 128 mins, value v = 32 (g / 2) + 2 r + g % 2
//                (so a 32-byte run widens to [16 rows][2 groups] int16 pairs)
//   [192, 224)   top 2 bits of the scales: value v at byte 16 (v / 64) + v % 16,
//                bits 2 ((v % 64) / 16)
//   [224, 256)   top 2 bits of the mins, likewise
//   [256, 2304)  codes: 32 chunks of 64 bytes, chunk 4 g + q (group g, q 0..3):
//                byte 4 r + b holds element 32 g + 4 q + b of row r in its low
//                nibble and element 32 g + 16 + 4 q + b in its high nibble.
#pragma once

#include <cstdint>

namespace frugal::kernels {

inline constexpr int kQ4KPackRows = 16;
inline constexpr uint64_t kQ4KTileBytes = 2304;  // 16 rows x 144 bytes

// rows: 16 plain Q4_K rows of nb blocks, row r at rows + r * row_bytes;
// dst: 16 * nb * 144 bytes (nb tiles).
void pack_q4_k_x16(const uint8_t* rows, uint64_t row_bytes, int64_t nb, uint8_t* dst);
// The inverse: nb tiles back to 16 plain rows at dst + r * row_bytes.
void unpack_q4_k_x16(const uint8_t* tiles, int64_t nb, uint8_t* dst, uint64_t row_bytes);
// Row r (0..15) of a row group's nb tiles as one plain row (nb blocks).
void unpack_row_q4_k_x16(const uint8_t* tiles, int64_t nb, int r, uint8_t* dst);

}  // namespace frugal::kernels
