// AVX2+FMA attend() and swiglu(): the same lanes and reductions as the
// scalar twins in kernels/cpu/ref/attention_ref.cpp (attention.h has the
// orders), eight floats at a time.
#include <immintrin.h>

#include <algorithm>
#include <limits>

#include "kernels/cpu/attention.h"
#include "kernels/cpu/x86/avx2.h"

namespace frugal::kernels::avx2 {
namespace {

// (l0 + l2) + (l1 + l3) of a[l] = hi[l] + lo[l].
inline float hsum_pairs(__m256 x) {
  __m128 a = _mm_add_ps(_mm256_extractf128_ps(x, 1), _mm256_castps256_ps128(x));
  a = _mm_add_ps(a, _mm_movehl_ps(a, a));
  a = _mm_add_ss(a, _mm_movehdup_ps(a));
  return _mm_cvtss_f32(a);
}

// (l0 + l1) + (l2 + l3) of a[l] = lo[l] + hi[l] (ggml_vec_dot_f32's reduce).
inline float hsum_hadd(__m256 x) {
  const __m128 t0 = _mm_add_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
  const __m128 t1 = _mm_hadd_ps(t0, t0);
  return _mm_cvtss_f32(_mm_hadd_ps(t1, t1));
}

// expf_poly (attention.h) on eight lanes.
inline __m256 exp8(__m256 x) {
  const __m256 r = _mm256_set1_ps(0x1.8p23f);
  const __m256 z = _mm256_fmadd_ps(x, _mm256_set1_ps(0x1.715476p+0f), r);
  const __m256 n = _mm256_sub_ps(z, r);
  const __m256 b = _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.7f7d1cp-20f),
                                    _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.62e4p-1f), x));
  const __m256i e = _mm256_slli_epi32(_mm256_castps_si256(z), 23);
  const __m256 k =
      _mm256_castsi256_ps(_mm256_add_epi32(e, _mm256_castps_si256(_mm256_set1_ps(1.0f))));
  const __m256 abs_n = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), n);
  const __m256 c = _mm256_cmp_ps(abs_n, _mm256_set1_ps(126.0f), _CMP_GT_OQ);
  const __m256 u = _mm256_mul_ps(b, b);
  const __m256 j = _mm256_fmadd_ps(
      _mm256_fmadd_ps(
          _mm256_fmadd_ps(_mm256_set1_ps(0x1.0e4020p-7f), b, _mm256_set1_ps(0x1.573e2ep-5f)), u,
          _mm256_fmadd_ps(_mm256_set1_ps(0x1.555e66p-3f), b, _mm256_set1_ps(0x1.fffdb6p-2f))),
      u, _mm256_mul_ps(_mm256_set1_ps(0x1.ffffecp-1f), b));
  const __m256 fast = _mm256_fmadd_ps(j, k, k);
  if (_mm256_movemask_ps(c) == 0) return fast;
  const __m256i g =
      _mm256_and_si256(_mm256_castps_si256(_mm256_cmp_ps(n, _mm256_setzero_ps(), _CMP_LE_OQ)),
                       _mm256_set1_epi32(static_cast<int>(0x82000000u)));
  const __m256 s1 = _mm256_castsi256_ps(_mm256_add_epi32(g, _mm256_set1_epi32(0x7f000000)));
  const __m256 s2 = _mm256_castsi256_ps(_mm256_sub_epi32(e, g));
  const __m256 d = _mm256_cmp_ps(abs_n, _mm256_set1_ps(192.0f), _CMP_GT_OQ);
  const __m256 scaled = _mm256_mul_ps(_mm256_fmadd_ps(s2, j, s2), s1);
  const __m256 mid = _mm256_blendv_ps(fast, scaled, c);
  return _mm256_blendv_ps(mid, _mm256_mul_ps(s1, s1), d);
}

float score_single(const float* q, const float* k, int64_t D) {
  __m256 acc = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= D; i += 8)
    acc = _mm256_fmadd_ps(_mm256_loadu_ps(k + i), _mm256_loadu_ps(q + i), acc);
  float s = hsum_pairs(acc);
  for (; i < D; ++i) s = std::fma(k[i], q[i], s);
  return s;
}

float score_batch(const float* q, const float* k, int64_t D) {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  const int64_t np = D & ~int64_t{31};
  for (int64_t i = 0; i < np; i += 32) {
    a0 = _mm256_fmadd_ps(_mm256_loadu_ps(k + i), _mm256_loadu_ps(q + i), a0);
    a1 = _mm256_fmadd_ps(_mm256_loadu_ps(k + i + 8), _mm256_loadu_ps(q + i + 8), a1);
    a2 = _mm256_fmadd_ps(_mm256_loadu_ps(k + i + 16), _mm256_loadu_ps(q + i + 16), a2);
    a3 = _mm256_fmadd_ps(_mm256_loadu_ps(k + i + 24), _mm256_loadu_ps(q + i + 24), a3);
  }
  a0 = _mm256_add_ps(a0, a2);
  a1 = _mm256_add_ps(a1, a3);
  a0 = _mm256_add_ps(a0, a1);
  float s = hsum_hadd(a0);
  for (int64_t i = np; i < D; ++i) s = std::fma(k[i], q[i], s);
  return s;
}

}  // namespace

void attend(const AttendArgs& a) {
  const int64_t D = a.head_dim, n = a.n_kv, n8 = attend_scores_len(n);
  float* s = a.scores;  // [n8]
  float mx = -std::numeric_limits<float>::infinity();
  for (int64_t j = 0; j < n; ++j) {
    const float* kj = a.k + j * a.kv_stride;
    const float dot =
        a.order == ScoreOrder::kSingle ? score_single(a.q, kj, D) : score_batch(a.q, kj, D);
    s[j] = dot * a.scale;
    mx = std::max(mx, s[j]);
  }
  for (int64_t j = n; j < n8; ++j) s[j] = -std::numeric_limits<float>::infinity();  // exp -> 0
  double sum = 0.0;
  const __m256 vmax = _mm256_set1_ps(mx);
  for (int64_t g = 0; g < n8; g += 8) {
    const __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(s + g), vmax));
    _mm256_storeu_ps(s + g, e);
    sum += static_cast<double>(hsum_pairs(e));
  }
  const __m256 inv = _mm256_set1_ps(static_cast<float>(1.0 / sum));
  for (int64_t g = 0; g < n8; g += 8)
    _mm256_storeu_ps(s + g, _mm256_mul_ps(_mm256_loadu_ps(s + g), inv));

  float* acc = a.acc;  // [8, D]: lane = position mod 8
  std::fill(acc, acc + 8 * D, 0.0f);
  const int64_t D8 = D & ~int64_t{7};
  for (int64_t j = 0; j < n; ++j) {
    const float* vj = a.v + j * a.kv_stride;
    float* row = acc + (j % 8) * D;
    const __m256 p = _mm256_set1_ps(s[j]);
    int64_t d = 0;
    for (; d < D8; d += 8)
      _mm256_storeu_ps(row + d,
                       _mm256_fmadd_ps(_mm256_loadu_ps(vj + d), p, _mm256_loadu_ps(row + d)));
    for (; d < D; ++d) row[d] = std::fma(vj[d], s[j], row[d]);
  }
  int64_t d = 0;
  for (; d < D8; d += 8) {
    __m256 l[8];
    for (int i = 0; i < 8; ++i) l[i] = _mm256_loadu_ps(acc + i * D + d);
    const __m256 a0 = _mm256_add_ps(l[4], l[0]), a1 = _mm256_add_ps(l[5], l[1]);
    const __m256 a2 = _mm256_add_ps(l[6], l[2]), a3 = _mm256_add_ps(l[7], l[3]);
    _mm256_storeu_ps(a.out + d, _mm256_add_ps(_mm256_add_ps(a0, a2), _mm256_add_ps(a1, a3)));
  }
  for (; d < D; ++d) {
    float x[4];
    for (int i = 0; i < 4; ++i) x[i] = acc[(i + 4) * D + d] + acc[i * D + d];
    a.out[d] = (x[0] + x[2]) + (x[1] + x[3]);
  }
}

void swiglu(const float* gate, const float* up, float* out, int64_t n) {
  int64_t i = 0;
  const __m256 one = _mm256_set1_ps(1.0f);
  for (; i + 8 <= n; i += 8) {
    const __m256 g = _mm256_loadu_ps(gate + i);
    const __m256 silu =
        _mm256_div_ps(g, _mm256_add_ps(one, exp8(_mm256_sub_ps(_mm256_setzero_ps(), g))));
    _mm256_storeu_ps(out + i, _mm256_mul_ps(silu, _mm256_loadu_ps(up + i)));
  }
  for (; i < n; ++i) out[i] = (gate[i] / (1.0f + std::exp(-gate[i]))) * up[i];
}

}  // namespace frugal::kernels::avx2
