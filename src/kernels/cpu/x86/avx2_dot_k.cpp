// AVX2 dots of K-quant weights (Q5_K, Q6_K; Q4_K has its own file,
// avx2_dot_q4_k.cpp) against Q8_K activations.
// Per 256-element super-block and per 32-element group: the codes are decoded
// once into 32 unsigned bytes, maddubs/madd multiply them with each token's
// activation codes and the group's integer scale, and the int32 lanes are
// scaled by d_w * d_a in float once per super-block. The integer per block is
// the one cpu/ref computes; the min/bias terms use Q8_K's bsums as ref does.
// Shapes: w is one row of n / 256 blocks; a is [nt, stride bytes].
// Built only where CMakeLists.txt gives this file -mavx2 -mfma -mf16c (x86-64).
#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)

#include <cstddef>

#include "kernels/cpu/x86/avx2.h"
#include "kernels/cpu/x86/avx2_common.h"
#include "tensor/blocks.h"

namespace frugal::kernels::FRUGAL_X86_NS {
namespace {

using tensor::BlockQ5_K;
using tensor::BlockQ6_K;
using tensor::BlockQ8_K;
using tensor::kQKK;

// k4_scales_mins() loads a block's first 16 bytes: d, dmin, the 12 packed bytes.
static_assert(offsetof(BlockQ5_K, scales) == 4 &&
              offsetof(BlockQ5_K, scales) + sizeof(BlockQ5_K::scales) == 16);

inline const BlockQ8_K* act_block(const TileArgs& p, int t, int64_t i) {
  return reinterpret_cast<const BlockQ8_K*>(p.a + t * p.stride) + i;
}

// [16] int16 scales, both 128-bit lanes the same 8 (x[0..7] as int16) ->
// the scale of group g (lane 0) and g2 (lane 1) in every int16 of its lane.
// One shuffle instead of extracting a byte and broadcasting it.
inline __m256i pick_scales(__m256i scales16, int g, int g2) {
  const int b0 = 2 * g, b1 = 2 * g2;
  const __m128i lo = _mm_set1_epi16(static_cast<int16_t>(b0 | ((b0 + 1) << 8)));
  const __m128i hi = _mm_set1_epi16(static_cast<int16_t>(b1 | ((b1 + 1) << 8)));
  return _mm256_shuffle_epi8(scales16, _mm256_set_m128i(hi, lo));
}

// Q4_K and Q5_K differ only in how the codes of group g (0..7) are decoded:
// Codes(block, g) -> [32] uint8 codes of elements 32g .. 32g + 31.
template <int NT, class Block, class Codes>
void k4_family(const TileArgs& p, Codes codes) {
  const auto* x = reinterpret_cast<const Block*>(p.w);
  const int64_t nb = p.n / kQKK;
  __m256 acc[NT], acc_min[NT];
  for (int t = 0; t < NT; ++t) acc[t] = acc_min[t] = _mm256_setzero_ps();
  for (int64_t i = 0; i < nb; ++i) {
    if constexpr (NT == 1) prefetch_stream(&x[i]);  // decode streams the row
    const __m128i sm = k4_scales_mins(&x[i]);       // [16] u8: 8 scales, 8 mins
    // mins16[s] = mn[s / 2]: the min of the group holding bsums[s].
    const __m256i mins16 = _mm256_cvtepu8_epi16(_mm_shuffle_epi8(
        sm, _mm_setr_epi8(8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15)));
    const __m256i scales16 = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(sm));  // [2][8]
    __m256i sumi[NT];
    for (int t = 0; t < NT; ++t) sumi[t] = _mm256_setzero_si256();
    for (int g = 0; g < 8; ++g) {
      const __m256i q = codes(x[i], g);
      const __m256i scale = pick_scales(scales16, g, g);
      for (int t = 0; t < NT; ++t) {
        const __m256i prod = _mm256_maddubs_epi16(q, load256(act_block(p, t, i)->qs + 32 * g));
#if defined(FRUGAL_X86_VNNI)
        sumi[t] = dpwssd(sumi[t], prod, scale);
#else  // the expression as before VNNI builds: GCC schedules it as it did
        sumi[t] = _mm256_add_epi32(sumi[t], _mm256_madd_epi16(prod, scale));
#endif
      }
    }
    const float dw = half_to_float(x[i].d), dmin = half_to_float(x[i].dmin);
    for (int t = 0; t < NT; ++t) {
      const BlockQ8_K* y = act_block(p, t, i);
      acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(dw * y->d), _mm256_cvtepi32_ps(sumi[t]), acc[t]);
      const __m256i m = _mm256_madd_epi16(load256(y->bsums), mins16);
      acc_min[t] = _mm256_fmadd_ps(_mm256_set1_ps(dmin * y->d), _mm256_cvtepi32_ps(m), acc_min[t]);
    }
  }
  for (int t = 0; t < NT; ++t) p.y[t * p.ys] = hsum_ps(acc[t]) - hsum_ps(acc_min[t]);
}

// Group g of a Q4_K block: low nibbles of qs[32 (g/2) ..] for even g, high for odd.
inline __m256i q4_k_codes(const uint8_t* qs, int g) {
  const __m256i raw = load256(qs + 32 * (g / 2));
  const __m256i v = (g % 2 == 0) ? raw : _mm256_srli_epi16(raw, 4);
  return _mm256_and_si256(v, _mm256_set1_epi8(0x0F));
}

struct Q5_K {
  template <int NT>
  static void run(const TileArgs& p) {
    k4_family<NT, BlockQ5_K>(p, [](const BlockQ5_K& b, int g) {
      // The fifth bit of element l of group g is bit g of qh[l].
      const __m256i mask = _mm256_set1_epi8(static_cast<char>(1 << g));
      const __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(load256(b.qh), mask), mask);
      return _mm256_or_si256(q4_k_codes(b.qs, g), _mm256_and_si256(set, _mm256_set1_epi8(0x10)));
    });
  }
};

// Q6_K codes are 6-bit u in 0..63 standing for u - 32. The integer sum is
// sum_s scale_s * (sum u * a - 32 * bsums[s]); the 32 * bsums part is taken
// from each token's Q8_K bsums, exactly.
struct Q6_K {
  template <int NT>
  static void run(const TileArgs& p) {
    const auto* x = reinterpret_cast<const BlockQ6_K*>(p.w);
    const int64_t nb = p.n / kQKK;
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    __m256 acc[NT];
    for (int t = 0; t < NT; ++t) acc[t] = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; ++i) {
      const BlockQ6_K& b = x[i];
      if constexpr (NT == 1) prefetch_stream(&b);  // decode streams the row
      const __m128i sc8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b.scales));
      const __m256i scales16 = _mm256_cvtepi8_epi16(sc8);  // [16] int16
      // [2][8] int16: scales 0..7 in both lanes, then 8..15 in both lanes.
      const __m256i sc_lo = _mm256_broadcastsi128_si256(_mm_cvtepi8_epi16(sc8));
      const __m256i sc_hi = _mm256_broadcastsi128_si256(_mm_cvtepi8_epi16(_mm_srli_si128(sc8, 8)));
      __m256i sumi[NT];
      for (int t = 0; t < NT; ++t) {
        // -32 * sum_s scale_s * bsums[s]
        const __m256i bias = _mm256_madd_epi16(load256(act_block(p, t, i)->bsums), scales16);
        sumi[t] = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(bias, 5));
      }
      for (int half = 0; half < 2; ++half) {
        const __m256i ql0 = load256(b.ql + 64 * half);
        const __m256i ql1 = load256(b.ql + 64 * half + 32);
        const __m256i qh = load256(b.qh + 32 * half);
        // Groups 4 half + r, r = 0..3 (element order of blocks.h / cpu/ref).
        const __m256i u[4] = {
            _mm256_or_si256(_mm256_and_si256(ql0, m4),
                            _mm256_slli_epi16(_mm256_and_si256(qh, _mm256_set1_epi8(0x03)), 4)),
            _mm256_or_si256(_mm256_and_si256(ql1, m4),
                            _mm256_slli_epi16(_mm256_and_si256(qh, _mm256_set1_epi8(0x0C)), 2)),
            _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4),
                            _mm256_and_si256(qh, _mm256_set1_epi8(0x30))),
            _mm256_or_si256(
                _mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4),
                _mm256_srli_epi16(_mm256_and_si256(qh, _mm256_set1_epi8(static_cast<char>(0xC0))),
                                  2)),
        };
        for (int r = 0; r < 4; ++r) {
          const int g = 4 * half + r;  // sub-blocks 2g (low 16 bytes) and 2g + 1 (high)
          // scales[2g] in the low lane, scales[2g + 1] in the high lane.
          const __m256i scale = g < 4 ? pick_scales(sc_lo, 2 * g, 2 * g + 1)
                                      : pick_scales(sc_hi, 2 * g - 8, 2 * g - 7);
          for (int t = 0; t < NT; ++t) {
            const __m256i prod =
                _mm256_maddubs_epi16(u[r], load256(act_block(p, t, i)->qs + 32 * g));
#if defined(FRUGAL_X86_VNNI)
            sumi[t] = dpwssd(sumi[t], prod, scale);
#else  // the expression as before VNNI builds: GCC schedules it as it did
            sumi[t] = _mm256_add_epi32(sumi[t], _mm256_madd_epi16(prod, scale));
#endif
          }
        }
      }
      const float dw = half_to_float(b.d);
      for (int t = 0; t < NT; ++t) {
        acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(dw * act_block(p, t, i)->d),
                                 _mm256_cvtepi32_ps(sumi[t]), acc[t]);
      }
    }
    for (int t = 0; t < NT; ++t) p.y[t * p.ys] = hsum_ps(acc[t]);
  }
};

}  // namespace

float dot_q5_k_q8_k(const void* w, const void* a, int64_t n) {
  return run_one<Q5_K>(w, a, n);
}
float dot_q6_k_q8_k(const void* w, const void* a, int64_t n) {
  return run_one<Q6_K>(w, a, n);
}

void tile_q5_k_q8_k(const void* w, const void* a, uint64_t stride, int64_t n, int nt, float* y,
                    int64_t ys) {
  run_tile<Q5_K>({static_cast<const uint8_t*>(w), static_cast<const uint8_t*>(a), stride, n, y, ys},
                 nt);
}
void tile_q6_k_q8_k(const void* w, const void* a, uint64_t stride, int64_t n, int nt, float* y,
                    int64_t ys) {
  run_tile<Q6_K>({static_cast<const uint8_t*>(w), static_cast<const uint8_t*>(a), stride, n, y, ys},
                 nt);
}

// One row at a time: a K-quant super-block's per-row work (scales) is not
// shared between rows, and its FMA chain is one step per 256 elements.
#define FRUGAL_AVX2_BLOCK(name, Kernel)                                                          \
  void name(const void* w, uint64_t w_stride, int nr, const void* a, uint64_t stride, int64_t n, \
            int nt, float* y, int64_t ys) {                                                      \
    run_rows<Kernel>({static_cast<const uint8_t*>(w), static_cast<const uint8_t*>(a), stride, n, \
                      y, ys, w_stride},                                                          \
                     nr, nt);                                                                    \
  }
FRUGAL_AVX2_BLOCK(block_q5_k_q8_k, Q5_K)
FRUGAL_AVX2_BLOCK(block_q6_k_q8_k, Q6_K)
#undef FRUGAL_AVX2_BLOCK

}  // namespace frugal::kernels::FRUGAL_X86_NS

#endif  // __AVX2__ && __FMA__ && __F16C__
