// AVX2 dot of Q4_K weights against Q8_K activations, eight rows in the eight
// int32 / float lanes.
//
// Per 256-element super-block a row's result is
//   d_w d_a * S - dmin_w d_a * M,  S = sum_g sc_g * P_g,  M = sum_g mn_g * B_g,
// with P_g the integer dot of group g (32 codes 0..15 times activations) and
// B_g the sum of group g's activations (two Q8_K bsums). S and M are exact
// int32; each row accumulates acc += float(S) * (d_w * d_a) and
// acc_min += float(M) * (dmin_w * d_a) with one FMA each, and returns
// acc - acc_min. That float order differs from llama.cpp's plain vec_dot (8
// partial lanes); llama.cpp repacks Q4_K on x86 itself, and the parity tests
// exempt files holding Q4_K.
//
// Why eight rows at once (tiles of 2..7 tokens; longer prompts take the
// GEMM, avx2_gemm.cpp, and decode rows8_decode below): the single-row kernel spends two multiplies
// per group and token (maddubs for the codes, madd to widen and apply the 6-bit scale), and AMD Zen
// 1 has one integer-multiply pipe. Here eight rows' maddubs outputs (int16 pair sums) are reduced
// with hadd_epi16, which runs on another pipe, into each row's two half-group sums, and one madd
// per eight rows applies the scales. Exact: a half-group sum covers 16 products of a code 0..15 and
// an activation in [-128, 127], |sum| <= 30720 < 32768.
//
// Every path (8 rows, fewer rows, one token, a tile of tokens) computes each
// row's S and M exactly and then the same float sequence, so results never
// depend on how rows or tokens are grouped. Shapes: w is row 0 of up to 8 rows
// w + r * w_stride, each n / 256 super-blocks; a is [nt, stride bytes] of Q8_K
// blocks; y[t * ys + r].
// Built only where CMakeLists.txt gives this file -mavx2 -mfma -mf16c (x86-64).
#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)

#include <cmath>
#include <cstddef>
#include <cstring>

#include "kernels/cpu/x86/avx2.h"
#include "kernels/cpu/x86/avx2_common.h"
#include "tensor/blocks.h"

namespace frugal::kernels::FRUGAL_X86_NS {
namespace {

using tensor::BlockQ4_K;
using tensor::BlockQ8_K;
using tensor::kQKK;

// k4_scales_mins() loads a block's first 16 bytes: d, dmin, the 12 packed bytes.
static_assert(offsetof(BlockQ4_K, scales) == 4 &&
              offsetof(BlockQ4_K, scales) + sizeof(BlockQ4_K::scales) == 16);

constexpr int kLaneRows = 8;
constexpr int kGroups = kQKK / 32;

const BlockQ4_K* row_blocks(const TileArgs& p, int r) {
  return reinterpret_cast<const BlockQ4_K*>(p.w + r * p.w_stride);
}
const BlockQ8_K* act_blocks(const TileArgs& p, int t) {
  return reinterpret_cast<const BlockQ8_K*>(p.a + t * p.stride);
}

// Group g of a Q4_K block: [32] codes, low nibbles of qs[32 (g / 2) ..] for
// even g, high nibbles for odd g.
inline __m256i codes(const uint8_t* qs, int g) {
  const __m256i raw = load256(qs + 32 * (g / 2));
  const __m256i v = (g % 2 == 0) ? raw : _mm256_srli_epi16(raw, 4);
  return _mm256_and_si256(v, _mm256_set1_epi8(0x0F));
}

// B_{2k} and B_{2k+1} (group sums of activations) as the two int16 halves of
// every int32 lane, k = 0..3, for madd against interleaved min pairs.
inline void group_sum_pairs(const BlockQ8_K& y, __m256i out[kGroups / 2]) {
  for (int k = 0; k < kGroups / 2; ++k) {
    const int b0 = y.bsums[4 * k] + y.bsums[4 * k + 1];
    const int b1 = y.bsums[4 * k + 2] + y.bsums[4 * k + 3];
    out[k] = _mm256_set1_epi32(static_cast<int>(
        static_cast<uint16_t>(b0) | (static_cast<uint32_t>(static_cast<uint16_t>(b1)) << 16)));
  }
}

// Eight rows x NT tokens (NT > 1: prefill tiles).
template <int NT>
void rows8(const TileArgs& p) {
  const int64_t nb = p.n / kQKK;
  __m256 acc[NT], acc_min[NT];  // [NT][8 rows]
  for (int t = 0; t < NT; ++t) acc[t] = acc_min[t] = _mm256_setzero_ps();
  // Lane r of the madd result = row r: pair (lo, hi) half-group sums of row r
  // next to each other, rows 0..3 in 128-bit lane 0 and 4..7 in lane 1.
  const __m256i interleave = _mm256_setr_epi8(0, 1, 8, 9, 2, 3, 10, 11, 4, 5, 12, 13, 6, 7, 14, 15,
                                              0, 1, 8, 9, 2, 3, 10, 11, 4, 5, 12, 13, 6, 7, 14, 15);
  for (int64_t i = 0; i < nb; ++i) {
    const BlockQ4_K* b[kLaneRows];
    __m128i sm[kLaneRows];  // [8 rows][16] u8: sc0..sc7, mn0..mn7
    for (int r = 0; r < kLaneRows; ++r) {
      b[r] = row_blocks(p, r) + i;
      sm[r] = k4_scales_mins(b[r]);
    }
    // Transpose to groups: after three rounds of unpacking, sc2[k] holds
    // the scales of groups 2k (bytes 0..7, rows 0..7) and 2k + 1 (bytes
    // 8..15); mn2[k] the mins likewise.
    __m128i sc2[kGroups / 2], mn2[kGroups / 2];
    {
      __m128i s1[4], m1[4];
      for (int j = 0; j < 4; ++j) {
        s1[j] = _mm_unpacklo_epi8(sm[2 * j], sm[2 * j + 1]);  // [g0..7][rows 2j, 2j+1]
        m1[j] = _mm_unpackhi_epi8(sm[2 * j], sm[2 * j + 1]);
      }
      const __m128i s_lo01 = _mm_unpacklo_epi16(s1[0], s1[1]);  // [g0..3][rows 0..3]
      const __m128i s_hi01 = _mm_unpackhi_epi16(s1[0], s1[1]);  // [g4..7][rows 0..3]
      const __m128i s_lo23 = _mm_unpacklo_epi16(s1[2], s1[3]);  // [g0..3][rows 4..7]
      const __m128i s_hi23 = _mm_unpackhi_epi16(s1[2], s1[3]);
      const __m128i m_lo01 = _mm_unpacklo_epi16(m1[0], m1[1]);
      const __m128i m_hi01 = _mm_unpackhi_epi16(m1[0], m1[1]);
      const __m128i m_lo23 = _mm_unpacklo_epi16(m1[2], m1[3]);
      const __m128i m_hi23 = _mm_unpackhi_epi16(m1[2], m1[3]);
      sc2[0] = _mm_unpacklo_epi32(s_lo01, s_lo23);  // [g0, g1][rows 0..7]
      sc2[1] = _mm_unpackhi_epi32(s_lo01, s_lo23);  // [g2, g3]
      sc2[2] = _mm_unpacklo_epi32(s_hi01, s_hi23);  // [g4, g5]
      sc2[3] = _mm_unpackhi_epi32(s_hi01, s_hi23);  // [g6, g7]
      mn2[0] = _mm_unpacklo_epi32(m_lo01, m_lo23);
      mn2[1] = _mm_unpackhi_epi32(m_lo01, m_lo23);
      mn2[2] = _mm_unpacklo_epi32(m_hi01, m_hi23);
      mn2[3] = _mm_unpackhi_epi32(m_hi01, m_hi23);
    }
    // scale_pairs[g]: [8 rows][2] int16, sc_{r,g} twice (for the lo / hi
    // half-group sums); min_pairs[k]: [8 rows][2] int16, mn_{r,2k}, mn_{r,2k+1}.
    __m256i scale_pairs[kGroups], min_pairs[kGroups / 2];
    for (int k = 0; k < kGroups / 2; ++k) {
      const __m128i odd = _mm_srli_si128(sc2[k], 8);
      scale_pairs[2 * k] = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(sc2[k], sc2[k]));
      scale_pairs[2 * k + 1] = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(odd, odd));
      min_pairs[k] = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(mn2[k], _mm_srli_si128(mn2[k], 8)));
    }
    __m128i dh = _mm_setzero_si128(), dminh = _mm_setzero_si128();
    dh = _mm_insert_epi16(dh, b[0]->d, 0);
    dminh = _mm_insert_epi16(dminh, b[0]->dmin, 0);
#define FRUGAL_Q4K_LANE(r)               \
  dh = _mm_insert_epi16(dh, b[r]->d, r); \
  dminh = _mm_insert_epi16(dminh, b[r]->dmin, r)
    FRUGAL_Q4K_LANE(1);
    FRUGAL_Q4K_LANE(2);
    FRUGAL_Q4K_LANE(3);
    FRUGAL_Q4K_LANE(4);
    FRUGAL_Q4K_LANE(5);
    FRUGAL_Q4K_LANE(6);
    FRUGAL_Q4K_LANE(7);
#undef FRUGAL_Q4K_LANE
    const __m256 dw = _mm256_cvtph_ps(dh);       // [8 rows]
    const __m256 dmin = _mm256_cvtph_ps(dminh);  // [8 rows]

    __m256i s[NT];  // [NT][8 rows] int32 S
    for (int t = 0; t < NT; ++t) s[t] = _mm256_setzero_si256();
    for (int g = 0; g < kGroups; ++g) {
      __m256i u[kLaneRows];  // [8 rows][32] codes of group g
      for (int r = 0; r < kLaneRows; ++r) u[r] = codes(b[r]->qs, g);
      for (int t = 0; t < NT; ++t) {
        const __m256i a = load256(act_blocks(p, t)[i].qs + 32 * g);
        __m256i pr[kLaneRows];  // [8 rows][16] int16 pair sums
        for (int r = 0; r < kLaneRows; ++r) pr[r] = _mm256_maddubs_epi16(u[r], a);
        const __m256i h0123 =
            _mm256_hadd_epi16(_mm256_hadd_epi16(pr[0], pr[1]), _mm256_hadd_epi16(pr[2], pr[3]));
        const __m256i h4567 =
            _mm256_hadd_epi16(_mm256_hadd_epi16(pr[4], pr[5]), _mm256_hadd_epi16(pr[6], pr[7]));
        // [2 halves][8 rows] -> [8 rows][2 halves] (rows 0..3 in lane 0).
        const __m256i h = _mm256_hadd_epi16(h0123, h4567);
        const __m256i x = _mm256_shuffle_epi8(_mm256_permute4x64_epi64(h, 0xD8), interleave);
        s[t] = _mm256_add_epi32(s[t], _mm256_madd_epi16(x, scale_pairs[g]));
      }
    }
    for (int t = 0; t < NT; ++t) {
      const BlockQ8_K& y = act_blocks(p, t)[i];
      __m256i bp[kGroups / 2];
      group_sum_pairs(y, bp);
      __m256i m = _mm256_madd_epi16(min_pairs[0], bp[0]);  // [8 rows] int32 M
      for (int k = 1; k < kGroups / 2; ++k)
        m = _mm256_add_epi32(m, _mm256_madd_epi16(min_pairs[k], bp[k]));
      const __m256 da = _mm256_set1_ps(y.d);
      acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s[t]), _mm256_mul_ps(dw, da), acc[t]);
      acc_min[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(m), _mm256_mul_ps(dmin, da), acc_min[t]);
    }
  }
  for (int t = 0; t < NT; ++t) _mm256_storeu_ps(p.y + t * p.ys, _mm256_sub_ps(acc[t], acc_min[t]));
}

// One row x NT tokens: S and M by the single-row method (madd with each
// group's scale; bsums times mins), then the same float sequence as rows8.
template <int NT>
void row1(const TileArgs& p) {
  const int64_t nb = p.n / kQKK;
  const BlockQ4_K* x = row_blocks(p, 0);
  float acc[NT] = {}, acc_min[NT] = {};
  for (int64_t i = 0; i < nb; ++i) {
    const __m128i sm = k4_scales_mins(&x[i]);
    // mins16[s] = mn[s / 2]: the min of the group holding bsums[s].
    const __m256i mins16 = _mm256_cvtepu8_epi16(_mm_shuffle_epi8(
        sm, _mm_setr_epi8(8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15)));
    // [2][8] int16: the 8 group scales in both 128-bit lanes; group g's is
    // picked into every int16 by one byte shuffle.
    const __m256i scales16 = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(sm));
    const float dw = half_to_float(x[i].d), dmin = half_to_float(x[i].dmin);
    for (int t = 0; t < NT; ++t) {
      const BlockQ8_K& y = act_blocks(p, t)[i];
      __m256i sumi = _mm256_setzero_si256();
      for (int g = 0; g < kGroups; ++g) {
        const __m256i pick = _mm256_set1_epi16(static_cast<int16_t>((2 * g) | ((2 * g + 1) << 8)));
        const __m256i prod = _mm256_maddubs_epi16(codes(x[i].qs, g), load256(y.qs + 32 * g));
        sumi = dpwssd(sumi, prod, _mm256_shuffle_epi8(scales16, pick));
      }
      // S and M (exact int32 sums of their 8 lanes) reduced together.
      const __m256i m_lanes = _mm256_madd_epi16(load256(y.bsums), mins16);
      const __m256i h = _mm256_hadd_epi32(sumi, m_lanes);  // [S01 S23 M01 M23 | S45 S67 M45 M67]
      const __m128i h4 = _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
      const __m128i h2 = _mm_hadd_epi32(h4, h4);  // [S, M, S, M]
      const int32_t s = _mm_cvtsi128_si32(h2);
      const int32_t m = _mm_extract_epi32(h2, 1);
      acc[t] = std::fma(static_cast<float>(s), dw * y.d, acc[t]);
      acc_min[t] = std::fma(static_cast<float>(m), dmin * y.d, acc_min[t]);
    }
  }
  for (int t = 0; t < NT; ++t) p.y[t * p.ys] = acc[t] - acc_min[t];
}

// Decode, eight rows at a time with rows in the lanes at the end of each
// block: every row's S and M lanes are formed as in row1 (madd with the
// group scales), then the 8 rows' lane vectors are reduced together by a
// tree of hadd_epi32 (about 2 instructions per row instead of about 11 for
// one row's hadd / extract / convert / scalar FMA), and the float steps run
// on [8 rows] vectors: lane r is exactly row1's sequence for row r. The next
// eight rows, which follow in memory, are prefetched at the pace they will
// be read (eight rows side by side are eight short streams). matmul_bench,
// Q4_K 4864x896, one Zen 3 core: 13.4 GB/s row by row, 16.3 this way.
inline __m256i lane_sums8(const __m256i v[kLaneRows]) {  // [8] lane sums of v[0..7]
  const __m256i h0123 =
      _mm256_hadd_epi32(_mm256_hadd_epi32(v[0], v[1]), _mm256_hadd_epi32(v[2], v[3]));
  const __m256i h4567 =
      _mm256_hadd_epi32(_mm256_hadd_epi32(v[4], v[5]), _mm256_hadd_epi32(v[6], v[7]));
  return _mm256_add_epi32(_mm256_permute2x128_si256(h0123, h4567, 0x20),
                          _mm256_permute2x128_si256(h0123, h4567, 0x31));
}

#if defined(__AVX512BW__) && defined(__AVX512VNNI__)
// The avx512-vnni build: each row's S lanes from 512-bit registers. A row's
// 128 code bytes are two 64-byte loads; load k holds groups 4k and 4k + 2 in
// its low nibbles (bytes 0..31, 32..63) and 4k + 1, 4k + 3 in its high ones,
// so the activations are regrouped to match once per super-block (shared by
// the 8 rows) and each row takes 2 loads, 6 mask / shift ops, 4 maddubs, 4
// scale picks and 4 dpwssd per super-block, against twice as many 256-bit
// ones. S is the same exact int32, the rest is rows8_decode's float
// sequence below, so the bits are the AVX2 table's. On the session-20 host
// (Sapphire-Rapids-class KVM guest, 2 threads, weights from DRAM) the Q4_K
// decode matmul read 19.5-20.2 GB/s with the 256-bit rows (avx2, avx-vnni)
// and 21.5-22.1 this way; the 1.5B Q4_K_M decoded 19.5-19.9 -> 20.9-21.1 t/s.
// a[k][h]: [64] activation codes of groups (4k + h, 4k + h + 2).
inline void regroup_activations(const BlockQ8_K& y, __m512i a[2][2]) {
  for (int k = 0; k < 2; ++k) {
    for (int h = 0; h < 2; ++h) {
      a[k][h] = _mm512_inserti64x4(_mm512_castsi256_si512(load256(y.qs + 128 * k + 32 * h)),
                                   load256(y.qs + 128 * k + 32 * h + 64), 1);
    }
  }
}

// pick[k][h]: byte shuffle giving, in every int16 of the low 256 bits, scale
// 4k + h of the row's 8 int16 scales (repeated in each 128-bit lane), and
// scale 4k + h + 2 in the high 256 bits.
inline __m512i scale_pick(int g_low, int g_high) {
  const __m256i lo = _mm256_set1_epi16(static_cast<int16_t>((2 * g_low) | ((2 * g_low + 1) << 8)));
  const __m256i hi =
      _mm256_set1_epi16(static_cast<int16_t>((2 * g_high) | ((2 * g_high + 1) << 8)));
  return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

// [8] int32 lanes whose sum is the row's S; scales16: [2][8] int16, the row's
// 8 group scales in both 128-bit lanes.
inline __m256i row_s_lanes(const BlockQ4_K& x, const __m512i a[2][2], __m256i scales16,
                           const __m512i pick[2][2]) {
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  const __m512i sc = _mm512_broadcast_i64x4(scales16);
  __m512i s = _mm512_setzero_si512();  // [16] int32
  for (int k = 0; k < 2; ++k) {
    const __m512i raw = _mm512_loadu_si512(x.qs + 64 * k);
    const __m512i lo = _mm512_maddubs_epi16(_mm512_and_si512(raw, low4), a[k][0]);
    const __m512i hi =
        _mm512_maddubs_epi16(_mm512_and_si512(_mm512_srli_epi16(raw, 4), low4), a[k][1]);
    s = _mm512_dpwssd_epi32(s, lo, _mm512_shuffle_epi8(sc, pick[k][0]));
    s = _mm512_dpwssd_epi32(s, hi, _mm512_shuffle_epi8(sc, pick[k][1]));
  }
  return _mm256_add_epi32(_mm512_castsi512_si256(s), _mm512_extracti64x4_epi64(s, 1));
}

// Decode over the 16-row packed layout (kernels/cpu/packed_q4_k.h): rows in
// the 16 int32 lanes. A 64-byte code chunk holds 4 elements of each of 16
// rows per nibble, so one VPDPBUSD against the broadcast 4 activation bytes
// of those elements adds them into every row's lane: per group, 4 chunks
// give 8 VPDPBUSD into a low-nibble and a high-nibble sum (the high nibbles
// are masked in place, codes x 16, and the sum shifted back: exact, every
// product a multiple of 16). Both sums fit int16 (16 products of 15 x 128),
// so VPDPWSSD applies the group's 6-bit scale (zero-extended into int32
// lanes) without a 32-bit multiply. M comes from the mins as int16 pairs
// against pairs of group sums, as in rows8_decode. Per row and super-block
// this is about 13 instructions against about 32 for row_s_lanes above, and
// each thread streams one run of tiles instead of 16 rows side by side.
// S and M are the exact int32s of the other paths and the float steps are
// rows8_decode's, so the bits are the plain layout's.
// Tile offsets (packed_q4_k.h).
constexpr int kTileScLo = 64, kTileMnLo = 128, kTileScHi = 192, kTileMnHi = 224, kTileCodes = 256;
constexpr int kTileBytes = 16 * static_cast<int>(sizeof(BlockQ4_K));
constexpr int kPrefetchTiles = 4;  // 9 KB ahead of the stream

// The 128 6-bit values of a scale (or min) table: [2][64] bytes, value v at
// byte v of out[v / 64] (packed_q4_k.h: low nibbles at lo, top bits at hi).
inline void six_bit_values(const uint8_t* t, int lo, int hi, __m512i out[2]) {
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  // 128-bit lane j of a broadcast 16-byte run shifted right by 2j.
  const __m512i shifts =
      _mm512_setr_epi64(0, 0, 0x0002000200020002LL, 0x0002000200020002LL, 0x0004000400040004LL,
                        0x0004000400040004LL, 0x0006000600060006LL, 0x0006000600060006LL);
  const __m512i nibbles = _mm512_loadu_si512(t + lo);
  for (int c = 0; c < 2; ++c) {
    const __m512i top = _mm512_srlv_epi16(
        _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(t + hi + 16 * c))),
        shifts);
    const __m512i low = c == 0 ? nibbles : _mm512_srli_epi16(nibbles, 4);
    // (low & 0x0F) | ((top & 3) << 4): top's bits 0..1 moved to 4..5 first.
    out[c] = _mm512_ternarylogic_epi64(_mm512_and_si512(low, low4), _mm512_slli_epi16(top, 4),
                                       _mm512_set1_epi8(0x30), 0xF8);  // A | (B & C)
  }
}

// One row group (16 rows) x nb super-blocks: y[0..16).
void rows16_packed(const uint8_t* t, int64_t nb, const BlockQ8_K* ya, float* y) {
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  const __m512i high4 = _mm512_set1_epi8(static_cast<char>(0xF0));
  __m512 acc = _mm512_setzero_ps(), acc_min = _mm512_setzero_ps();  // [16 rows]
  for (int64_t i = 0; i < nb; ++i, t += kTileBytes) {
    for (int off = 0; off < kTileBytes; off += 64)
      prefetch_l2(t + kPrefetchTiles * kTileBytes + off);
    const BlockQ8_K& a = ya[i];
    alignas(64) uint8_t sc[128], mn[128];  // [8 groups][16 rows]; [4 pairs][16 rows][2]
    {
      __m512i v[2];
      six_bit_values(t, kTileScLo, kTileScHi, v);
      _mm512_store_si512(sc, v[0]);
      _mm512_store_si512(sc + 64, v[1]);
      six_bit_values(t, kTileMnLo, kTileMnHi, v);
      _mm512_store_si512(mn, v[0]);
      _mm512_store_si512(mn + 64, v[1]);
    }
    __m512i s = _mm512_setzero_si512();  // [16 rows] int32 S
    for (int g = 0; g < kGroups; ++g) {
      __m512i lo = _mm512_setzero_si512(), hi = _mm512_setzero_si512();  // [16 rows]
      for (int q = 0; q < 4; ++q) {
        const __m512i raw = _mm512_loadu_si512(t + kTileCodes + (4 * g + q) * 64);
        int32_t a_lo, a_hi;  // activations of the low / high nibbles' elements
        std::memcpy(&a_lo, a.qs + 32 * g + 4 * q, 4);
        std::memcpy(&a_hi, a.qs + 32 * g + 16 + 4 * q, 4);
        lo = _mm512_dpbusd_epi32(lo, _mm512_and_si512(raw, low4), _mm512_set1_epi32(a_lo));
        hi = _mm512_dpbusd_epi32(hi, _mm512_and_si512(raw, high4), _mm512_set1_epi32(a_hi));
      }
      const __m512i scale =
          _mm512_cvtepu8_epi32(_mm_load_si128(reinterpret_cast<const __m128i*>(sc + 16 * g)));
      s = _mm512_dpwssd_epi32(s, lo, scale);
      s = _mm512_dpwssd_epi32(s, _mm512_srai_epi32(hi, 4), scale);
    }
    // Group sums B_g = bsums[2g] + bsums[2g + 1], as int16 pairs (B_2k, B_2k+1).
    const __m256i b32 = _mm256_madd_epi16(load256(a.bsums), _mm256_set1_epi16(1));  // [8] int32
    alignas(16) int32_t b_pairs[4];
    _mm_store_si128(reinterpret_cast<__m128i*>(b_pairs),
                    _mm_packs_epi32(_mm256_castsi256_si128(b32), _mm256_extracti128_si256(b32, 1)));
    __m512i m = _mm512_setzero_si512();  // [16 rows] int32 M
    for (int k = 0; k < kGroups / 2; ++k) {
      const __m512i mins =
          _mm512_cvtepu8_epi16(_mm256_load_si256(reinterpret_cast<const __m256i*>(mn + 32 * k)));
      m = _mm512_dpwssd_epi32(m, mins, _mm512_set1_epi32(b_pairs[k]));
    }
    const __m512 dw = _mm512_cvtph_ps(load256(t));         // [16 rows]
    const __m512 dmin = _mm512_cvtph_ps(load256(t + 32));  // [16 rows]
    const __m512 da = _mm512_set1_ps(a.d);
    acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(dw, da), acc);
    acc_min = _mm512_fmadd_ps(_mm512_cvtepi32_ps(m), _mm512_mul_ps(dmin, da), acc_min);
  }
  _mm512_storeu_ps(y, _mm512_sub_ps(acc, acc_min));
}
#endif

void rows8_decode(const TileArgs& p) {
  const int64_t nb = p.n / kQKK;
#if defined(__AVX512BW__) && defined(__AVX512VNNI__)
  const __m512i pick[2][2] = {{scale_pick(0, 2), scale_pick(1, 3)},
                              {scale_pick(4, 6), scale_pick(5, 7)}};
#endif
  const BlockQ8_K* ya = act_blocks(p, 0);
  __m256 acc = _mm256_setzero_ps(), acc_min = _mm256_setzero_ps();  // [8 rows]
#if !(defined(__AVX512BW__) && defined(__AVX512VNNI__))
  const __m256i low4 = _mm256_set1_epi8(0x0F);
#endif
  for (int64_t i = 0; i < nb; ++i) {
    const char* next = reinterpret_cast<const char*>(p.w + kLaneRows * p.w_stride) +
                       i * kLaneRows * sizeof(BlockQ4_K);
    for (size_t off = 0; off < kLaneRows * sizeof(BlockQ4_K); off += 64) prefetch_l2(next + off);
    const BlockQ8_K& y = ya[i];
    const __m256i bsums = load256(y.bsums);
    __m256i s[kLaneRows], m[kLaneRows];  // [8 rows][8] S and M lanes
    uint32_t dd[kLaneRows];              // [8 rows] d | dmin << 16
    __m256i scales16_of[kLaneRows];      // [8 rows][2][8] int16: the row's 8 scales in both lanes
    __m256i mins16_of[kLaneRows];        // [8 rows][16] int16: min of the group holding bsums[s]
    for (int r = 0; r < kLaneRows; r += 2) {
      // Two rows' scales and mins unpacked at once, one per 128-bit lane.
      const __m256i sm2 = k4_scales_mins_x2(&row_blocks(p, r)[i], &row_blocks(p, r + 1)[i]);
      const __m256i sc = _mm256_unpacklo_epi8(sm2, _mm256_setzero_si256());  // [2 rows][8] i16
      scales16_of[r] = _mm256_permute4x64_epi64(sc, 0x44);
      scales16_of[r + 1] = _mm256_permute4x64_epi64(sc, 0xEE);
      const __m256i mn = _mm256_unpackhi_epi8(sm2, sm2);  // [2 rows][16] u8, each min twice
      mins16_of[r] = _mm256_cvtepu8_epi16(_mm256_castsi256_si128(mn));
      mins16_of[r + 1] = _mm256_cvtepu8_epi16(_mm256_extracti128_si256(mn, 1));
    }
#if defined(__AVX512BW__) && defined(__AVX512VNNI__)
    __m512i a[2][2];  // [2 loads][lo / hi nibbles][64] activation codes
    regroup_activations(y, a);
    for (int r = 0; r < kLaneRows; ++r) {
      const BlockQ4_K& x = row_blocks(p, r)[i];
      std::memcpy(&dd[r], &x, 4);
      s[r] = row_s_lanes(x, a, scales16_of[r], pick);
      m[r] = _mm256_madd_epi16(bsums, mins16_of[r]);
    }
#else
    for (int r = 0; r < kLaneRows; ++r) {
      const BlockQ4_K& x = row_blocks(p, r)[i];
      std::memcpy(&dd[r], &x, 4);
      const __m256i scales16 = scales16_of[r];
      __m256i s_lo = _mm256_setzero_si256(), s_hi = _mm256_setzero_si256();
      for (int k = 0; k < kGroups / 2; ++k) {
        const __m256i raw = load256(x.qs + 32 * k);
        const __m256i lo =
            _mm256_maddubs_epi16(_mm256_and_si256(raw, low4), load256(y.qs + 64 * k));
        const __m256i hi = _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(raw, 4), low4),
                                                load256(y.qs + 64 * k + 32));
        const __m256i pick_lo =
            _mm256_set1_epi16(static_cast<int16_t>((4 * k) | ((4 * k + 1) << 8)));
        const __m256i pick_hi =
            _mm256_set1_epi16(static_cast<int16_t>((4 * k + 2) | ((4 * k + 3) << 8)));
        s_lo = dpwssd(s_lo, lo, _mm256_shuffle_epi8(scales16, pick_lo));
        s_hi = dpwssd(s_hi, hi, _mm256_shuffle_epi8(scales16, pick_hi));
      }
      s[r] = _mm256_add_epi32(s_lo, s_hi);
      m[r] = _mm256_madd_epi16(bsums, mins16_of[r]);
    }
#endif
    // [8 rows] d | dmin << 16 -> halves [d0..d7 | dmin0..dmin7].
    const __m256i halves = _mm256_permutevar8x32_epi32(
        _mm256_shuffle_epi8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(dd)),
                            _mm256_setr_epi8(0, 1, 4, 5, 8, 9, 12, 13, 2, 3, 6, 7, 10, 11, 14, 15,
                                             0, 1, 4, 5, 8, 9, 12, 13, 2, 3, 6, 7, 10, 11, 14, 15)),
        _mm256_setr_epi32(0, 1, 4, 5, 2, 3, 6, 7));
    const __m256 dw = _mm256_cvtph_ps(_mm256_castsi256_si128(halves));         // [8 rows]
    const __m256 dmin = _mm256_cvtph_ps(_mm256_extracti128_si256(halves, 1));  // [8 rows]
    const __m256 da = _mm256_set1_ps(y.d);
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(lane_sums8(s)), _mm256_mul_ps(dw, da), acc);
    acc_min = _mm256_fmadd_ps(_mm256_cvtepi32_ps(lane_sums8(m)), _mm256_mul_ps(dmin, da), acc_min);
  }
  _mm256_storeu_ps(p.y, _mm256_sub_ps(acc, acc_min));
}

struct Q4_K {
  template <int NT>
  static void run(const TileArgs& p) {
    row1<NT>(p);
  }
};

template <int NT>
void rows(TileArgs p, int nr) {
  // Groups of 8 rows: rows8 for tiles of tokens, rows8_decode for one token;
  // the rest row by row.
  for (; nr >= kLaneRows; nr -= kLaneRows) {
    if constexpr (NT > 1) {
      rows8<NT>(p);
    } else {
      rows8_decode(p);
    }
    p.w += kLaneRows * p.w_stride;
    p.y += kLaneRows;
  }
  for (; nr > 0; --nr) {
    row1<NT>(p);
    p.w += p.w_stride;
    p.y += 1;
  }
}

}  // namespace

float dot_q4_k_q8_k(const void* w, const void* a, int64_t n) {
  return run_one<Q4_K>(w, a, n);
}

void tile_q4_k_q8_k(const void* w, const void* a, uint64_t stride, int64_t n, int nt, float* y,
                    int64_t ys) {
  run_tile<Q4_K>({static_cast<const uint8_t*>(w), static_cast<const uint8_t*>(a), stride, n, y, ys},
                 nt);
}

void block_q4_k_q8_k(const void* w, uint64_t w_stride, int nr, const void* a, uint64_t stride,
                     int64_t n, int nt, float* y, int64_t ys) {
  const TileArgs p{
      static_cast<const uint8_t*>(w), static_cast<const uint8_t*>(a), stride, n, y, ys, w_stride};
  switch (nt) {
    case 1:
      rows<1>(p, nr);
      break;
    case 2:
      rows<2>(p, nr);
      break;
    case 3:
      rows<3>(p, nr);
      break;
    default:
      rows<4>(p, nr);
      break;
  }
}

#if defined(__AVX512BW__) && defined(__AVX512VNNI__)
void block_q4_k_x16_q8_k(const void* w, uint64_t w_stride, int nr, const void* a, uint64_t,
                         int64_t n, int, float* y, int64_t) {
  const auto* tiles = static_cast<const uint8_t*>(w);
  const int64_t nb = n / kQKK;
  for (int r = 0; r < nr; r += 16)  // row group r / 16: 16 * w_stride bytes
    rows16_packed(tiles + r * w_stride, nb, static_cast<const BlockQ8_K*>(a), y + r);
}
#endif

}  // namespace frugal::kernels::FRUGAL_X86_NS

#endif  // __AVX2__ && __FMA__ && __F16C__
