// AVX2 activation quantizers. Their output must be byte-identical to
// tensor::quantize_act_q8_{0,1} and tensor::quantize_row_q8_k
// (tests/kernels_simd_test.cpp checks it), so each float step is the
// reference's step: the same products x * id, the same rounding (nearest, ties
// to even, for all three), the same scalar scale arithmetic. Max and integer sums are
// order-independent, so those are free to use SIMD reductions.
// Built only where CMakeLists.txt gives this file -mavx2 -mfma -mf16c (x86-64).
#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)

#include <cstring>

#include "kernels/cpu/x86/avx2.h"
#include "kernels/cpu/x86/avx2_common.h"
#include "tensor/blocks.h"

namespace frugal::kernels::avx2 {
namespace {

using tensor::BlockQ8_0;
using tensor::BlockQ8_1;
using tensor::BlockQ8_K;
using tensor::kQK;
using tensor::kQKK;

inline __m256 abs_ps(__m256 v) {
  return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v);
}

inline float hmax_ps(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}

// 4 x 8 int32 (elements 0..31 in order, each in int8 range) -> 32 int8 in order.
inline __m256i pack_i32_to_i8(__m256i a, __m256i b, __m256i c, __m256i d) {
  const __m256i ab = _mm256_packs_epi32(a, b);  // per lane: a0-3 b0-3 | a4-7 b4-7
  const __m256i cd = _mm256_packs_epi32(c, d);
  const __m256i bytes = _mm256_packs_epi16(ab, cd);
  // dwords now hold elements 0-3, 8-11, 16-19, 24-27, 4-7, 12-15, 20-23, 28-31.
  return _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

// One 32-element block of Q8_0/Q8_1: stores the codes, returns d and sum(qs).
inline float q8_block(const float* x, int8_t* qs, int32_t* sum) {
  __m256 v[4];
  __m256 amax = _mm256_setzero_ps();
  for (int k = 0; k < 4; ++k) {
    v[k] = _mm256_loadu_ps(x + 8 * k);
    amax = _mm256_max_ps(amax, abs_ps(v[k]));
  }
  const float max = hmax_ps(amax);
  const float d = max / 127.0f;
  const float id = max != 0.0f ? 127.0f / max : 0.0f;
  const __m256 vid = _mm256_set1_ps(id);
  __m256i q[4];
  for (int k = 0; k < 4; ++k)
    q[k] = _mm256_cvtps_epi32(
        _mm256_round_ps(_mm256_mul_ps(v[k], vid), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(qs), pack_i32_to_i8(q[0], q[1], q[2], q[3]));
  *sum = hsum_i32(_mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3])));
  return d;
}

inline uint16_t float_to_half(float f) {
  return static_cast<uint16_t>(_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT));
}

}  // namespace

void quantize_row_q8_0(const float* x, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ8_0*>(dst);
  for (int64_t i = 0; i < n / kQK; ++i, x += kQK) {
    int32_t sum;
    b[i].d = float_to_half(q8_block(x, b[i].qs, &sum));
  }
}

void quantize_row_q8_1(const float* x, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ8_1*>(dst);
  for (int64_t i = 0; i < n / kQK; ++i, x += kQK) {
    int32_t sum;
    const float d = q8_block(x, b[i].qs, &sum);
    b[i].d = float_to_half(d);
    b[i].s = float_to_half(static_cast<float>(sum) * d);
  }
}

void quantize_row_q8_k(const float* x, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ8_K*>(dst);
  for (int64_t i = 0; i < n / kQKK; ++i, x += kQKK) {
    __m256 vmax = _mm256_setzero_ps();
    for (int k = 0; k < kQKK / 8; ++k)
      vmax = _mm256_max_ps(vmax, abs_ps(_mm256_loadu_ps(x + 8 * k)));
    const float amax = hmax_ps(vmax);
    if (amax == 0.0f) {
      std::memset(&b[i], 0, sizeof(BlockQ8_K));
      continue;
    }
    // The reference keeps the first element of largest magnitude, with its sign.
    float max = amax;
    const __m256 vamax = _mm256_set1_ps(amax);
    for (int k = 0; k < kQKK / 8; ++k) {
      const int hit =
          _mm256_movemask_ps(_mm256_cmp_ps(abs_ps(_mm256_loadu_ps(x + 8 * k)), vamax, _CMP_EQ_OQ));
      if (hit != 0) {
        max = x[8 * k + __builtin_ctz(static_cast<unsigned>(hit))];
        break;
      }
    }
    const float iscale = -127.0f / max;
    const __m256 vis = _mm256_set1_ps(iscale);
    const __m256i top = _mm256_set1_epi32(127);
    for (int g = 0; g < kQKK / 32; ++g) {
      __m256i q[4];
      for (int k = 0; k < 4; ++k) {
        const __m256 p = _mm256_mul_ps(vis, _mm256_loadu_ps(x + 32 * g + 8 * k));
        q[k] = _mm256_min_epi32(
            _mm256_cvtps_epi32(_mm256_round_ps(p, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)),
            top);
      }
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(b[i].qs + 32 * g),
                          pack_i32_to_i8(q[0], q[1], q[2], q[3]));
      // bsums of the two 16-element halves: sum the 8 int32 lanes per half.
      const __m256i lo = _mm256_add_epi32(q[0], q[1]), hi = _mm256_add_epi32(q[2], q[3]);
      b[i].bsums[2 * g] = static_cast<int16_t>(hsum_i32(lo));
      b[i].bsums[2 * g + 1] = static_cast<int16_t>(hsum_i32(hi));
    }
    b[i].d = 1.0f / iscale;
  }
}

}  // namespace frugal::kernels::avx2

#endif  // __AVX2__ && __FMA__ && __F16C__
