// AVX2 dot of Q4_0 weights against Q8_0 activations, eight rows in the
// eight float lanes.
//
// Per 32-element block each row's products are summed exactly in int32 and
// the row accumulates float(isum) * (d_w * d_a) with one FMA, where the
// plain vec_dot order keeps 8 partial lanes per row and sums them at the end
// (llama.cpp's repacked Q4_0 kernels also scale whole-block sums; we have not
// checked their bits). llama.cpp repacks Q4_0 on x86, so its Q4_0 results do
// not follow its vec_dot either, and the parity tests exempt Q4_0. The float
// work per block drops from 8 lanes per row (cvt, mul, FMA) to one lane per
// row: eight rows' integer sums are reduced into one vector (lane r = row r)
// and converted, scaled and accumulated together. The reduction works on the
// int16 pair sums (rows8: hadd_epi16, then one madd per 8 rows). On
// AMD Zen 1, which has a single integer-multiply pipe, this takes a
// block x token from about 9 cycles to 6 at decode and 7 to 5.3 in tiles of
// 4 tokens (measured on 16 L2-resident rows).
//
// Every path (8 rows, fewer rows, one token, a tile of tokens) computes each
// row with that same sequence, so results never depend on how rows or tokens
// are grouped. Shapes: w is row 0 of up to 8 rows w + r * w_stride, each n / 32
// blocks; a is [nt, stride bytes] of Q8_0 blocks; y[t * ys + r].
// Built only where CMakeLists.txt gives this file -mavx2 -mfma -mf16c (x86-64).
#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)

#include <cmath>

#include "kernels/cpu/x86/avx2.h"
#include "kernels/cpu/x86/avx2_common.h"
#include "tensor/blocks.h"

namespace frugal::kernels::FRUGAL_X86_NS {
namespace {

using tensor::BlockQ4_0;
using tensor::BlockQ8_0;
using tensor::kQK;

constexpr int kLaneRows = 8;

const BlockQ4_0* row_blocks(const TileArgs& p, int r) {
  return reinterpret_cast<const BlockQ4_0*>(p.w + r * p.w_stride);
}
const BlockQ8_0* act_blocks(const TileArgs& p, int t) {
  return reinterpret_cast<const BlockQ8_0*>(p.a + t * p.stride);
}

// 8 * the sum of a block's 32 activation codes, in every lane.
inline __m256i a8_total(__m256i a) {
  const __m256i l = dot_u8(_mm256_set1_epi8(1), a);
  return _mm256_set1_epi32(8 * hsum_i32(l));
}

// Eight rows x NT tokens, rows paired in the two 128-bit lanes: one load
// puts rows 2j and 2j + 1's 16 code bytes side by side, so a mask gives both
// rows' elements 0..15 and a shift and mask their elements 16..31; against
// the activation halves broadcast to both lanes, two maddubs and an add
// leave each int16 with 4 products (|sum| <= 7620). Two rounds of hadd_epi16
// on the four row pairs reach 16 products per int16 (<= 30480, exact) and
// one madd with ones finishes: int32 lanes hold rows [0, 2, 4, 6 | 1, 3, 5,
// 7], the scales are gathered in that order and the result is permuted
// back once per call. Against one row per register this saves the unpacking
// inserts and four of the seven hadds per block and token (matmul_bench,
// Q4_0 decode, one Zen 3 core: 12.4 GB/s with one row per register, 15.9
// paired).
// At NT = 1 (decode) the next eight rows, which lie right after these in
// memory, are prefetched at the pace they will be read: eight rows read side
// by side are eight short streams the hardware prefetcher picks up too late.
// a8: null, or 8 * the activation codes' sum of each block (decode, token 0),
// computed once per call instead of once per eight rows (a8_total is about
// an eighth of the work of a block of eight rows at decode).
template <int NT>
void rows8(const TileArgs& p, const int32_t* a8 = nullptr) {
  const int64_t nb = p.n / kQK;
  __m256 acc[NT];  // [NT][rows 0, 2, 4, 6, 1, 3, 5, 7]
  for (int t = 0; t < NT; ++t) acc[t] = _mm256_setzero_ps();
  const __m256i low4 = _mm256_set1_epi8(0x0F);
#if !defined(FRUGAL_X86_VNNI)
  const __m256i ones = _mm256_set1_epi16(1);
#endif
  for (int64_t i = 0; i < nb; ++i) {
    if constexpr (NT == 1) {
      const char* next = reinterpret_cast<const char*>(p.w + kLaneRows * p.w_stride) +
                         i * kLaneRows * sizeof(BlockQ4_0);
      for (size_t off = 0; off < kLaneRows * sizeof(BlockQ4_0); off += 64) {
        prefetch_l2(next + off);
      }
    }
    __m256i lo[kLaneRows / 2], hi[kLaneRows / 2];  // [pairs][rows 2j | 2j+1][16] codes
    for (int j = 0; j < kLaneRows / 2; ++j) {
      const __m256i v =
          _mm256_loadu2_m128i(reinterpret_cast<const __m128i*>(row_blocks(p, 2 * j + 1)[i].qs),
                              reinterpret_cast<const __m128i*>(row_blocks(p, 2 * j)[i].qs));
      lo[j] = _mm256_and_si256(v, low4);
      hi[j] = _mm256_and_si256(_mm256_srli_epi16(v, 4), low4);
    }
    const __m256 dw = _mm256_cvtph_ps(_mm_setr_epi16(
        static_cast<int16_t>(row_blocks(p, 0)[i].d), static_cast<int16_t>(row_blocks(p, 2)[i].d),
        static_cast<int16_t>(row_blocks(p, 4)[i].d), static_cast<int16_t>(row_blocks(p, 6)[i].d),
        static_cast<int16_t>(row_blocks(p, 1)[i].d), static_cast<int16_t>(row_blocks(p, 3)[i].d),
        static_cast<int16_t>(row_blocks(p, 5)[i].d),
        static_cast<int16_t>(row_blocks(p, 7)[i].d)));  // [rows 0, 2, 4, 6, 1, 3, 5, 7]
    for (int t = 0; t < NT; ++t) {
      const BlockQ8_0& y = act_blocks(p, t)[i];
      const __m256i a = load256(y.qs);
      const __m256i a_lo = _mm256_permute2x128_si256(a, a, 0x00);  // elements 0..15 twice
      const __m256i a_hi = _mm256_permute2x128_si256(a, a, 0x11);  // 16..31 twice
#if defined(FRUGAL_X86_VNNI)
      // VNNI: each int32 lane sums 8 products at once; two hadd_epi32 rounds
      // reach each row's 32 (the same exact integer).
      __m256i pr[kLaneRows / 2];  // [pairs][rows 2j | 2j+1][4] int32, 8 products each
      for (int j = 0; j < kLaneRows / 2; ++j)
        pr[j] = dpbusd(dpbusd(_mm256_setzero_si256(), lo[j], a_lo), hi[j], a_hi);
      const __m256i h =  // [rows 0, 2, 4, 6 | 1, 3, 5, 7] int32
          _mm256_hadd_epi32(_mm256_hadd_epi32(pr[0], pr[1]), _mm256_hadd_epi32(pr[2], pr[3]));
      const __m256i total = NT == 1 && a8 != nullptr ? _mm256_set1_epi32(a8[i]) : a8_total(a);
      const __m256i isum = _mm256_sub_epi32(h, total);
#else
      __m256i pr[kLaneRows / 2];  // [pairs][rows 2j | 2j+1][8] int16, 4 products each
      for (int j = 0; j < kLaneRows / 2; ++j) {
        pr[j] =
            _mm256_add_epi16(_mm256_maddubs_epi16(lo[j], a_lo), _mm256_maddubs_epi16(hi[j], a_hi));
      }
      // [rows 0, 2, 4, 6 | 1, 3, 5, 7][2] int16 of 16 products each.
      const __m256i h =
          _mm256_hadd_epi16(_mm256_hadd_epi16(pr[0], pr[1]), _mm256_hadd_epi16(pr[2], pr[3]));
      const __m256i total = NT == 1 && a8 != nullptr ? _mm256_set1_epi32(a8[i]) : a8_total(a);
      const __m256i isum = _mm256_sub_epi32(_mm256_madd_epi16(h, ones), total);
#endif
      const __m256 scale = _mm256_mul_ps(dw, _mm256_set1_ps(half_to_float(y.d)));
      acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), scale, acc[t]);
    }
  }
  const __m256i to_rows = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  for (int t = 0; t < NT; ++t)
    _mm256_storeu_ps(p.y + t * p.ys, _mm256_permutevar8x32_ps(acc[t], to_rows));
}

// One row x NT tokens, the same arithmetic per row as rows8.
template <int NT>
void row1(const TileArgs& p) {
  const int64_t nb = p.n / kQK;
  const BlockQ4_0* x = row_blocks(p, 0);
  float acc[NT] = {};
  for (int64_t i = 0; i < nb; ++i) {
    const __m256i u = unpack_nibbles(x[i].qs);
    const float dw = half_to_float(x[i].d);
    for (int t = 0; t < NT; ++t) {
      const BlockQ8_0& y = act_blocks(p, t)[i];
      const __m256i a = load256(y.qs);
      const int32_t isum = hsum_i32(dot_i8(_mm256_sub_epi8(u, _mm256_set1_epi8(8)), a));
      acc[t] = std::fma(static_cast<float>(isum), dw * half_to_float(y.d), acc[t]);
    }
  }
  for (int t = 0; t < NT; ++t) p.y[t * p.ys] = acc[t];
}

struct Q4_0 {
  template <int NT>
  static void run(const TileArgs& p) {
    row1<NT>(p);
  }
};

// Blocks per call whose activation totals rows<1> keeps on the stack
// (n_in up to 32768); longer rows compute them per eight rows.
constexpr int64_t kMaxTotalsBlocks = 1024;

template <int NT>
void rows(TileArgs p, int nr) {
  int32_t a8[kMaxTotalsBlocks];  // [nb] 8 * sum of block i's activation codes
  const int32_t* totals = nullptr;
  if constexpr (NT == 1) {
    const int64_t nb = p.n / kQK;
    if (nr >= 2 * kLaneRows && nb <= kMaxTotalsBlocks) {
      const BlockQ8_0* y = act_blocks(p, 0);
      for (int64_t i = 0; i < nb; ++i) a8[i] = _mm256_extract_epi32(a8_total(load256(y[i].qs)), 0);
      totals = a8;
    }
  }
  for (; nr >= kLaneRows; nr -= kLaneRows) {
    rows8<NT>(p, totals);
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

float dot_q4_0_q8_0(const void* w, const void* a, int64_t n) {
  return run_one<Q4_0>(w, a, n);
}

void tile_q4_0_q8_0(const void* w, const void* a, uint64_t stride, int64_t n, int nt, float* y,
                    int64_t ys) {
  run_tile<Q4_0>({static_cast<const uint8_t*>(w), static_cast<const uint8_t*>(a), stride, n, y, ys},
                 nt);
}

void block_q4_0_q8_0(const void* w, uint64_t w_stride, int nr, const void* a, uint64_t stride,
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

}  // namespace frugal::kernels::FRUGAL_X86_NS

#endif  // __AVX2__ && __FMA__ && __F16C__
