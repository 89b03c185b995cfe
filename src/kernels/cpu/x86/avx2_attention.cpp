// AVX2+FMA attend() and swiglu(): the same lanes and reductions as the
// scalar twins in kernels/cpu/ref/attention_ref.cpp (attention.h has the
// orders), eight floats at a time. Every K/V access goes through load8 /
// load1, templated on the cache's element type (float, or uint16_t halves
// widened by F16C's exact vcvtph2ps), so both cache types share one body.
#include <immintrin.h>

#include <algorithm>
#include <limits>
#include <type_traits>
#include <vector>

#include "kernels/cpu/attention.h"
#include "kernels/cpu/x86/avx2.h"

namespace frugal::kernels::avx2 {
namespace {

inline __m256 load8(const float* p) {
  return _mm256_loadu_ps(p);
}
inline __m256 load8(const uint16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
inline float load1(const float* p) {
  return *p;
}
inline float load1(const uint16_t* p) {
  return _cvtsh_ss(*p);
}

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

template <typename E>
float score_single(const float* q, const E* k, int64_t D) {
  __m256 acc = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= D; i += 8) acc = _mm256_fmadd_ps(load8(k + i), _mm256_loadu_ps(q + i), acc);
  float s = hsum_pairs(acc);
  for (; i < D; ++i) s = std::fma(load1(k + i), q[i], s);
  return s;
}

template <typename E>
float score_batch(const float* q, const E* k, int64_t D) {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  const int64_t np = D & ~int64_t{31};
  for (int64_t i = 0; i < np; i += 32) {
    a0 = _mm256_fmadd_ps(load8(k + i), _mm256_loadu_ps(q + i), a0);
    a1 = _mm256_fmadd_ps(load8(k + i + 8), _mm256_loadu_ps(q + i + 8), a1);
    a2 = _mm256_fmadd_ps(load8(k + i + 16), _mm256_loadu_ps(q + i + 16), a2);
    a3 = _mm256_fmadd_ps(load8(k + i + 24), _mm256_loadu_ps(q + i + 24), a3);
  }
  a0 = _mm256_add_ps(a0, a2);
  a1 = _mm256_add_ps(a1, a3);
  a0 = _mm256_add_ps(a0, a1);
  float s = hsum_hadd(a0);
  for (int64_t i = np; i < D; ++i) s = std::fma(load1(k + i), q[i], s);
  return s;
}

// Tiles of positions: a tile's K or V rows (32 x D floats of one head) stay
// in L1 while every query of a group uses them. A multiple of 8, so a tile
// starts at P.V lane 0.
constexpr int64_t kTile = 32;

// kSingle scores of four positions at once: four independent FMA chains.
// One position's chain is D / 8 dependent FMAs (latency-bound: about 5
// cycles each); interleaving positions keeps the FMA pipes busy. Each
// position's arithmetic is score_single's, so the bits are the same.
template <typename E>
inline void score_single4(const float* q, const E* k, int64_t st, int64_t D, float out[4]) {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  int64_t i = 0;
  for (; i + 8 <= D; i += 8) {
    const __m256 qv = _mm256_loadu_ps(q + i);
    a0 = _mm256_fmadd_ps(load8(k + i), qv, a0);
    a1 = _mm256_fmadd_ps(load8(k + st + i), qv, a1);
    a2 = _mm256_fmadd_ps(load8(k + 2 * st + i), qv, a2);
    a3 = _mm256_fmadd_ps(load8(k + 3 * st + i), qv, a3);
  }
  out[0] = hsum_pairs(a0), out[1] = hsum_pairs(a1), out[2] = hsum_pairs(a2),
  out[3] = hsum_pairs(a3);
  for (; i < D; ++i) {
    for (int r = 0; r < 4; ++r) out[r] = std::fma(load1(k + r * st + i), q[i], out[r]);
  }
}

// kBatch scores of two positions at once (eight chains), score_batch's
// arithmetic per position.
template <typename E>
inline void score_batch2(const float* q, const E* k, int64_t st, int64_t D, float out[2]) {
  __m256 a[2][4];
  for (auto& r : a) r[0] = r[1] = r[2] = r[3] = _mm256_setzero_ps();
  const int64_t np = D & ~int64_t{31};
  for (int64_t i = 0; i < np; i += 32) {
    for (int c = 0; c < 4; ++c) {
      const __m256 qv = _mm256_loadu_ps(q + i + 8 * c);
      a[0][c] = _mm256_fmadd_ps(load8(k + i + 8 * c), qv, a[0][c]);
      a[1][c] = _mm256_fmadd_ps(load8(k + st + i + 8 * c), qv, a[1][c]);
    }
  }
  for (int r = 0; r < 2; ++r) {
    const __m256 x0 = _mm256_add_ps(a[r][0], a[r][2]), x1 = _mm256_add_ps(a[r][1], a[r][3]);
    float sr = hsum_hadd(_mm256_add_ps(x0, x1));
    for (int64_t i = np; i < D; ++i) sr = std::fma(load1(k + r * st + i), q[i], sr);
    out[r] = sr;
  }
}

// Scores of n positions for one query, scaled, into s[0..n); returns the
// max of them and mx. k: the first position's key row, rows st apart.
template <typename E>
float score_range(const AttendGroupArgs& g, const E* k, int64_t st, const float* q, float* s,
                  int64_t n, float mx) {
  const int64_t D = g.head_dim, j1 = n;
  int64_t j = 0;
  float dots[4];
  if (g.order == ScoreOrder::kSingle) {
    for (; j + 4 <= j1; j += 4) {
      score_single4(q, k + j * st, st, D, dots);
      for (int r = 0; r < 4; ++r) {
        s[j + r] = dots[r] * g.scale;
        mx = std::max(mx, s[j + r]);
      }
    }
  } else {
    for (; j + 2 <= j1; j += 2) {
      score_batch2(q, k + j * st, st, D, dots);
      for (int r = 0; r < 2; ++r) {
        s[j + r] = dots[r] * g.scale;
        mx = std::max(mx, s[j + r]);
      }
    }
  }
  for (; j < j1; ++j) {
    const E* kj = k + j * st;
    const float dot =
        g.order == ScoreOrder::kSingle ? score_single<E>(q, kj, D) : score_batch<E>(q, kj, D);
    s[j] = dot * g.scale;
    mx = std::max(mx, s[j]);
  }
  return mx;
}

// s[0..n) -> softmax probabilities, padded with zeros to a multiple of 8:
// exp by exp8, summed per 8 lanes into a double, scaled by 1/sum.
void softmax_scores(float* s, int64_t n, float mx) {
  const int64_t n8 = attend_scores_len(n);
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
}

// Columns [c0, c1) of one query: the positions pv_columns left (the last
// n mod 8, and every position's columns past c0 + (c1 - c0) & ~7), then out =
// the lanes reduced as tinyBLAS reduces them.
template <typename E>
void pv_finish(const AttendGroupArgs& g, const float* s, float* acc, int64_t n, int64_t c0,
               int64_t c1, float* out) {
  const int64_t D = g.head_dim, c8 = c0 + ((c1 - c0) & ~int64_t{7}), n_full = n & ~int64_t{7};
  for (int64_t j = 0; j < n; ++j) {
    int64_t d = j < n_full ? c8 : c0;
    if (d == c1) continue;
    const E* vj = static_cast<const E*>(g.v) + j * g.kv_stride;
    float* row = acc + (j % 8) * D;
    const __m256 p = _mm256_set1_ps(s[j]);
    for (; d + 8 <= c1; d += 8)
      _mm256_storeu_ps(row + d, _mm256_fmadd_ps(load8(vj + d), p, _mm256_loadu_ps(row + d)));
    for (; d < c1; ++d) row[d] = std::fma(load1(vj + d), s[j], row[d]);
  }
  int64_t d = c0;
  for (; d + 8 <= c1; d += 8) {
    __m256 l[8];
    for (int i = 0; i < 8; ++i) l[i] = _mm256_loadu_ps(acc + i * D + d);
    const __m256 a0 = _mm256_add_ps(l[4], l[0]), a1 = _mm256_add_ps(l[5], l[1]);
    const __m256 a2 = _mm256_add_ps(l[6], l[2]), a3 = _mm256_add_ps(l[7], l[3]);
    _mm256_storeu_ps(out + d, _mm256_add_ps(_mm256_add_ps(a0, a2), _mm256_add_ps(a1, a3)));
  }
  for (; d < c1; ++d) {
    float x[4];
    for (int i = 0; i < 4; ++i) x[i] = acc[(i + 4) * D + d] + acc[i * D + d];
    out[d] = (x[0] + x[2]) + (x[1] + x[3]);
  }
}

// Rows [n, D] of halves, st apart, widened into dst [n, D] (exact).
void widen_rows(const uint16_t* src, int64_t st, int64_t n, int64_t D, float* dst) {
  const int64_t D8 = D & ~int64_t{7};
  for (int64_t r = 0; r < n; ++r, src += st, dst += D) {
    int64_t d = 0;
    for (; d < D8; d += 8) _mm256_storeu_ps(dst + d, load8(src + d));
    for (; d < D; ++d) dst[d] = load1(src + d);
  }
}

// kBatch scores (prompt rows): every query of a group reads each K tile,
// so halves are widened once per tile (into an L1-sized buffer) for all of
// them. The floats are the same values, so the same bits. One query reads
// the halves directly. (Decode's kSingle scores and every P.V widen in
// registers instead: register-blocked kernels below.)
struct FloatRows {
  const float* rows;  // the tile's first position
  int64_t stride;     // floats between positions
};

template <typename E>
FloatRows widened(const E* rows, int64_t st, int64_t n, int64_t n_cols, std::vector<float>& buf) {
  if constexpr (std::is_same_v<E, float>) {
    (void)n, (void)n_cols, (void)buf;
    return {rows, st};
  } else {
    buf.resize(static_cast<size_t>(n * n_cols));
    widen_rows(rows, st, n, n_cols, buf.data());
    return {buf.data(), n_cols};
  }
}

// ---------------------------------------------------------------------------
// Register-blocked decode kernels. A K or V block of 8 halves is widened in
// a register (vcvtph2ps from L1) and used at once by up to three queries, so
// nothing is widened into a buffer and read back: at 16k positions the
// widening buffer's stores and reloads cost more than the FMAs (perf, session
// 13). The arithmetic per (query, position) or (query, lane row, column) is
// the same as the kernels above, so the bits are too.

// The pair sums of four 8-lane accumulators: for each x its hsum_pairs
// halves c0 = a0 + a2 and c1 = a1 + a3 (a[l] = lo[l] + hi[l]), laid out
// [c0 c1 of x0, c0 c1 of x2 | c0 c1 of x1, c0 c1 of x3].
inline __m256 pair_sums4(const __m256 x[4]) {
  const __m256 a01 = _mm256_add_ps(_mm256_permute2f128_ps(x[0], x[1], 0x20),
                                   _mm256_permute2f128_ps(x[0], x[1], 0x31));
  const __m256 a23 = _mm256_add_ps(_mm256_permute2f128_ps(x[2], x[3], 0x20),
                                   _mm256_permute2f128_ps(x[2], x[3], 0x31));
  const __m256d p01 = _mm256_castps_pd(a01), p23 = _mm256_castps_pd(a23);
  return _mm256_add_ps(_mm256_castpd_ps(_mm256_unpacklo_pd(p01, p23)),
                       _mm256_castpd_ps(_mm256_unpackhi_pd(p01, p23)));
}

// hsum_pairs of eight accumulators, in order, from the pair sums of the first
// four and of the last four: c0 + c1 of each, as hsum_pairs adds them.
inline __m256 hsum_pairs8(__m256 first, __m256 last) {
  const __m256 h = _mm256_hadd_ps(first, last);  // [x0 x2 x4 x6 | x1 x3 x5 x7]
  return _mm256_permutevar8x32_ps(h, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

// Positions per tile of the blocked P.V: a lane row's accumulators are
// loaded and stored once per tile, query block and column group, so a longer
// tile spreads that; but a lane row's positions are 8 rows apart, which in
// the cache share few L1 sets, and longer tiles evict each other there.
// 32 was fastest at 4k and 16k positions (attention_bench, Zen 3).
constexpr int64_t kValueTile = 32;

// Software prefetch distance, in positions, for the blocked score kernel's K
// rows. The hardware prefetchers alone left the FMAs waiting on memory
// (perf annotate: ~45 % of score cycles on the first load of a row; decode
// at 16k positions 1.5x slower without it in attention_bench).
constexpr int64_t kPrefetchRows = 64;

template <typename E>
inline void prefetch_row(const E* row, int64_t n) {
  const char* p = reinterpret_cast<const char*>(row);
  for (int64_t b = 0; b < n * static_cast<int64_t>(sizeof(E)); b += 64)
    _mm_prefetch(p + b, _MM_HINT_T0);
}

inline float hmax(__m256 x) {  // max is exact in any order
  __m128 a = _mm_max_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
  a = _mm_max_ps(a, _mm_movehl_ps(a, a));
  a = _mm_max_ss(a, _mm_movehdup_ps(a));
  return _mm_cvtss_f32(a);
}

// kSingle scores of NQ queries over n positions (a multiple of 8) of one
// head: s[i][j] = scale * (q_i . k_j) with score_single's lanes and
// reduction, and mx[i] = max(mx[i], those scores). NP positions at a time
// (NQ x NP independent FMA chains: 8 or 12, enough to hide the FMA latency),
// their 8 sums reduced together by shuffles (pair_sums4, hsum_pairs8) rather
// than one at a time. Rows up to pf_n are prefetched kPrefetchRows ahead.
// D a multiple of 8.
template <int NQ, typename E>
void score_block(const float* const q[], const E* k, int64_t st, int64_t D, float scale,
                 float* const s[], int64_t n, int64_t pf_n, float mx[]) {
  constexpr int NP = NQ == 1 ? 8 : 4;
  const __m256 vscale = _mm256_set1_ps(scale);
  __m256 vmax[NQ];
  for (int i = 0; i < NQ; ++i) vmax[i] = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
  for (int64_t j = 0; j < n; j += 8) {
    __m256 sums[2][NQ];  // pair sums of positions j..j+3 and j+4..j+7
    for (int h = 0; h < 8 / NP; ++h) {
      __m256 acc[NQ][NP];
      for (auto& a : acc)
        for (auto& x : a) x = _mm256_setzero_ps();
      const E* kj = k + (j + h * NP) * st;
      for (int p = 0; p < NP; ++p) {
        if (j + h * NP + p + kPrefetchRows < pf_n) prefetch_row(kj + (p + kPrefetchRows) * st, D);
      }
      for (int64_t d = 0; d < D; d += 8) {
        __m256 qv[NQ];
        for (int i = 0; i < NQ; ++i) qv[i] = _mm256_loadu_ps(q[i] + d);
        for (int p = 0; p < NP; ++p) {
          const __m256 kv = load8(kj + p * st + d);
          for (int i = 0; i < NQ; ++i) acc[i][p] = _mm256_fmadd_ps(kv, qv[i], acc[i][p]);
        }
      }
      for (int i = 0; i < NQ; ++i)
        for (int p = 0; p < NP; p += 4) sums[h + p / 4][i] = pair_sums4(acc[i] + p);
    }
    for (int i = 0; i < NQ; ++i) {
      const __m256 sc = _mm256_mul_ps(hsum_pairs8(sums[0][i], sums[1][i]), vscale);
      _mm256_storeu_ps(s[i] + j, sc);
      vmax[i] = _mm256_max_ps(sc, vmax[i]);  // keeps vmax where sc is NaN, like std::max
    }
  }
  for (int i = 0; i < NQ; ++i) mx[i] = std::max(mx[i], hmax(vmax[i]));
}

// kBatch scores of NQ queries over n positions (a multiple of 8) of one
// head, D a multiple of 32: s[i][j] = scale * (q_i . k_j) with score_batch's
// lanes and reduction, and mx[i] = max(mx[i], those scores). score_batch's
// four accumulators a0..a3 (columns 8c + 32m) meet only at the end, as
// (a0 + a2) + (a1 + a3), so each is run to its end on its own, for NQ x 4
// (query, position) pairs at once: 12 independent chains whose K and q loads
// are shared (7 loads per 12 FMAs for NQ = 3, against 3 per 2 in
// score_batch2, whose eight chains are one query's). Then the reduction
// (hsum_hadd) of 8 positions at once by shuffles. Prompt rows' scores, so
// the tiles come from L1 / L2 and nothing is prefetched.
// score_batch's accumulator of columns col0 + 32m for NQ queries x NP
// positions (rows st apart from kj): acc[i][p], one FMA chain each.
template <int NQ, int NP, typename E>
inline void batch_chains(const float* const q[], const E* kj, int64_t st, int64_t D, int64_t col0,
                         __m256 acc[NQ][NP]) {
  for (int i = 0; i < NQ; ++i)
    for (int p = 0; p < NP; ++p) acc[i][p] = _mm256_setzero_ps();
  for (int64_t d = col0; d < D; d += 32) {
    __m256 qv[NQ];
    for (int i = 0; i < NQ; ++i) qv[i] = _mm256_loadu_ps(q[i] + d);
    for (int p = 0; p < NP; ++p) {
      const __m256 kv = load8(kj + p * st + d);
      for (int i = 0; i < NQ; ++i) acc[i][p] = _mm256_fmadd_ps(kv, qv[i], acc[i][p]);
    }
  }
}

template <int NQ, typename E>
void score_block_batch(const float* const q[], const E* k, int64_t st, int64_t D, float scale,
                       float* const s[], int64_t n, float mx[]) {
  constexpr int NP = 4;
  const __m256 vscale = _mm256_set1_ps(scale);
  __m256 vmax[NQ];
  for (int i = 0; i < NQ; ++i) vmax[i] = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
  for (int64_t j = 0; j < n; j += 8) {
    __m256 h1[2][NQ];  // per half of the 8 positions: the first hadd of hsum_hadd
    for (int h = 0; h < 2; ++h) {
      const E* kj = k + (j + h * NP) * st;
      __m256 x0[NQ][NP], x1[NQ][NP], a[NQ][NP];  // a0 + a2, a1 + a3, and a2 or a3
      batch_chains<NQ, NP>(q, kj, st, D, 0, x0);
      batch_chains<NQ, NP>(q, kj, st, D, 16, a);
      for (int i = 0; i < NQ; ++i)
        for (int p = 0; p < NP; ++p) x0[i][p] = _mm256_add_ps(x0[i][p], a[i][p]);
      batch_chains<NQ, NP>(q, kj, st, D, 8, x1);
      batch_chains<NQ, NP>(q, kj, st, D, 24, a);
      for (int i = 0; i < NQ; ++i)
        for (int p = 0; p < NP; ++p) x1[i][p] = _mm256_add_ps(x1[i][p], a[i][p]);
      for (int i = 0; i < NQ; ++i) {
        __m256 t[NP];  // score_batch's x0 + x1 of each position
        for (int p = 0; p < NP; ++p) t[p] = _mm256_add_ps(x0[i][p], x1[i][p]);
        // [lo + hi of t0 | of t1] and [of t2 | of t3], then pair sums.
        const __m256 a01 = _mm256_add_ps(_mm256_permute2f128_ps(t[0], t[1], 0x20),
                                         _mm256_permute2f128_ps(t[0], t[1], 0x31));
        const __m256 a23 = _mm256_add_ps(_mm256_permute2f128_ps(t[2], t[3], 0x20),
                                         _mm256_permute2f128_ps(t[2], t[3], 0x31));
        h1[h][i] = _mm256_hadd_ps(a01, a23);
      }
    }
    for (int i = 0; i < NQ; ++i) {
      // [p0 p2 p4 p6 | p1 p3 p5 p7], each (l0 + l1) + (l2 + l3), into order.
      const __m256 dots = _mm256_permutevar8x32_ps(_mm256_hadd_ps(h1[0][i], h1[1][i]),
                                                   _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
      const __m256 sc = _mm256_mul_ps(dots, vscale);
      _mm256_storeu_ps(s[i] + j, sc);
      vmax[i] = _mm256_max_ps(sc, vmax[i]);  // keeps vmax where sc is NaN, like std::max
    }
  }
  for (int i = 0; i < NQ; ++i) mx[i] = std::max(mx[i], hmax(vmax[i]));
}

// P.V of NQ queries over n positions (a multiple of 8, from a lane row 0)
// for CB column blocks of 8 from column `col`: lane row r of query i's acc
// (rows acc_st apart) += s[i][j] * v_j for j = r mod 8, in order (the
// scalar twin's lanes). NQ x CB accumulators stay in registers over a lane
// row's positions; each V block is loaded (and widened) once for NQ queries.
// While at it, the first column group prefetches the rows kValueTile ahead
// (pf_width elements from pf_col; none where pf_n is 0).
template <int NQ, int CB, typename E>
void pv_block(const E* v, int64_t st, int64_t col, const float* const s[], float* const acc[],
              int64_t acc_st, int64_t n, int64_t pf_n, int64_t pf_col, int64_t pf_width) {
  for (int64_t r = 0; r < 8; ++r) {
    __m256 a[NQ][CB];
    for (int i = 0; i < NQ; ++i)
      for (int c = 0; c < CB; ++c) a[i][c] = _mm256_loadu_ps(acc[i] + r * acc_st + col + 8 * c);
    for (int64_t j = r; j < n; j += 8) {
      __m256 p[NQ];
      for (int i = 0; i < NQ; ++i) p[i] = _mm256_broadcast_ss(s[i] + j);
      const E* vj = v + j * st + col;
      if (j + kValueTile < pf_n) prefetch_row(v + (j + kValueTile) * st + pf_col, pf_width);
      for (int c = 0; c < CB; ++c) {
        const __m256 vv = load8(vj + 8 * c);
        for (int i = 0; i < NQ; ++i) a[i][c] = _mm256_fmadd_ps(vv, p[i], a[i][c]);
      }
    }
    for (int i = 0; i < NQ; ++i)
      for (int c = 0; c < CB; ++c) _mm256_storeu_ps(acc[i] + r * acc_st + col + 8 * c, a[i][c]);
  }
}

// pv_block over `blocks` column blocks from column col: CB at a time, then
// the rest.
template <int NQ, int CB, typename E>
void pv_columns(const E* v, int64_t st, int64_t col, int64_t blocks, const float* const s[],
                float* const acc[], int64_t acc_st, int64_t n, int64_t pf_n) {
  for (; blocks >= CB; blocks -= CB, col += 8 * CB) {
    pv_block<NQ, CB>(v, st, col, s, acc, acc_st, n, pf_n, col, 8 * blocks);
    pf_n = 0;  // the first column group prefetched the rows' whole width
  }
  if constexpr (CB > 1) {
    if (blocks > 0) pv_columns<NQ, CB - 1>(v, st, col, blocks, s, acc, acc_st, n, pf_n);
  } else {
    (void)blocks;
  }
}

// The scratch of a group: per query its scores [s_len] then its P.V lanes
// [8, D] (attend_group_scratch_len).
struct GroupScratch {
  float* base;
  int64_t s_len, per_q;
  explicit GroupScratch(const AttendGroupArgs& g) {
    int64_t max_n = 0;
    for (int64_t i = 0; i < g.n_queries; ++i) max_n = std::max(max_n, g.queries[i].n_kv);
    base = g.scratch;
    s_len = attend_scores_len(max_n);
    per_q = s_len + attend_acc_len(g.head_dim);
  }
  float* scores(int64_t i) const { return base + i * per_q; }       // [s_len]
  float* acc(int64_t i) const { return base + i * per_q + s_len; }  // [8, D]
};

// The register-blocked kernels take the queries of a group kBlockQueries at
// a time; positions every query of a block attends to go through them
// together, each query's remaining ones (a shorter causal length, n mod 8)
// alone.
constexpr int64_t kBlockQueries = 3;

struct QueryBlock {
  int nq = 0;
  const float* q[kBlockQueries];
  float* s[kBlockQueries];    // scores at the tile's first position
  float* acc[kBlockQueries];  // P.V lanes [8, D]
  int64_t len[kBlockQueries];
  int64_t common = 0;  // min of len
};

// Queries [i0, i0 + kBlockQueries) of g at tile j0: len[i] = positions of the
// tile query i attends (limit(n_kv) - j0, within [0, n_tile]).
template <typename Limit>
QueryBlock query_block(const AttendGroupArgs& g, const GroupScratch& w, int64_t i0, int64_t j0,
                       int64_t n_tile, Limit limit) {
  QueryBlock b;
  b.nq = static_cast<int>(std::min(kBlockQueries, g.n_queries - i0));
  b.common = n_tile;
  for (int i = 0; i < b.nq; ++i) {
    const AttendQuery& qi = g.queries[i0 + i];
    b.q[i] = qi.q;
    b.s[i] = w.scores(i0 + i) + j0;
    b.acc[i] = w.acc(i0 + i);
    b.len[i] = std::clamp<int64_t>(limit(qi.n_kv) - j0, 0, n_tile);
    b.common = std::min(b.common, b.len[i]);
  }
  return b;
}

// Scores of every query over the tile of n_tile positions at j0 (kt: its
// first key row, rows st apart), clipped to positions before p1: positions
// all of a block of queries attend by the register-blocked kernels (kSingle:
// score_block, kBatch: score_block_batch), the rest by score_range.
template <ScoreOrder kOrder, typename E>
void score_queries(const AttendGroupArgs& g, const GroupScratch& w, const E* kt, int64_t st,
                   int64_t j0, int64_t n_tile, int64_t p1, float* mx) {
  const int64_t D = g.head_dim;
  for (int64_t i0 = 0; i0 < g.n_queries; i0 += kBlockQueries) {
    const QueryBlock b =
        query_block(g, w, i0, j0, n_tile, [p1](int64_t n_kv) { return std::min(n_kv, p1); });
    const int64_t n8 = b.common & ~int64_t{7};
    if (n8 > 0) {
      if constexpr (kOrder == ScoreOrder::kSingle) {
        if (b.nq == 1)
          score_block<1>(b.q, kt, st, D, g.scale, b.s, n8, p1 - j0, mx + i0);
        else if (b.nq == 2)
          score_block<2>(b.q, kt, st, D, g.scale, b.s, n8, p1 - j0, mx + i0);
        else
          score_block<3>(b.q, kt, st, D, g.scale, b.s, n8, p1 - j0, mx + i0);
      } else {
        if (b.nq == 1)
          score_block_batch<1>(b.q, kt, st, D, g.scale, b.s, n8, mx + i0);
        else if (b.nq == 2)
          score_block_batch<2>(b.q, kt, st, D, g.scale, b.s, n8, mx + i0);
        else
          score_block_batch<3>(b.q, kt, st, D, g.scale, b.s, n8, mx + i0);
      }
    }
    for (int i = 0; i < b.nq; ++i) {
      if (b.len[i] > n8)
        mx[i0 + i] =
            score_range(g, kt + n8 * st, st, b.q[i], b.s[i] + n8, b.len[i] - n8, mx[i0 + i]);
    }
  }
}

// kScores over positions [p0, p1): mx[i] = query i's max over them.
template <typename E>
void scores_phase(const AttendGroupArgs& g, const GroupScratch& w, int64_t p0, int64_t p1,
                  float* mx) {
  const int64_t m = g.n_queries, D = g.head_dim, st = g.kv_stride;
  for (int64_t i = 0; i < m; ++i) mx[i] = -std::numeric_limits<float>::infinity();
  int64_t max_n = 0;
  for (int64_t i = 0; i < m; ++i) max_n = std::max(max_n, g.queries[i].n_kv);
  p1 = std::min(p1, max_n);
  const E* k = static_cast<const E*>(g.k);
  const bool blocked_single = g.order == ScoreOrder::kSingle && D % 8 == 0;
  const bool blocked_batch = g.order == ScoreOrder::kBatch && D % 32 == 0;
  thread_local std::vector<float> tile;  // [kTile, D] widened halves
  for (int64_t j0 = p0; j0 < p1; j0 += kTile) {
    const int64_t n_tile = std::min(p1, j0 + kTile) - j0;
    if (blocked_single) {
      score_queries<ScoreOrder::kSingle>(g, w, k + j0 * st, st, j0, n_tile, p1, mx);
    } else if (blocked_batch && m > 1) {
      const FloatRows t = widened(k + j0 * st, st, n_tile, D, tile);
      score_queries<ScoreOrder::kBatch>(g, w, t.rows, t.stride, j0, n_tile, p1, mx);
    } else if (blocked_batch) {
      score_queries<ScoreOrder::kBatch>(g, w, k + j0 * st, st, j0, n_tile, p1, mx);
    } else if (m > 1) {
      const FloatRows t = widened(k + j0 * st, st, n_tile, D, tile);
      for (int64_t i = 0; i < m; ++i) {
        const int64_t n = std::min({g.queries[i].n_kv, j0 + kTile, p1}) - j0;
        if (n > 0)
          mx[i] = score_range(g, t.rows, t.stride, g.queries[i].q, w.scores(i) + j0, n, mx[i]);
      }
    } else {
      mx[0] = score_range(g, k + j0 * st, st, g.queries[0].q, w.scores(0) + j0, n_tile, mx[0]);
    }
  }
}

// kSoftmax of queries [i0, i1), given their maxima over all positions.
void softmax_phase(const AttendGroupArgs& g, const GroupScratch& w, int64_t i0, int64_t i1,
                   const float* mx) {
  for (int64_t i = i0; i < i1; ++i) {
    softmax_scores(w.scores(i), g.queries[i].n_kv, mx[i]);
    std::fill(w.acc(i), w.acc(i) + attend_acc_len(g.head_dim), 0.0f);
  }
}

// kValues for output columns [c0, c1): every query's P.V lanes over its
// positions n_kv & ~7 by the register-blocked kernels, tile by tile, then
// pv_finish (the last n_kv mod 8 positions, columns past the last whole
// block, the reduction).
template <typename E>
void values_phase(const AttendGroupArgs& g, const GroupScratch& w, int64_t c0, int64_t c1) {
  const int64_t m = g.n_queries, D = g.head_dim, st = g.kv_stride, blocks = (c1 - c0) / 8;
  if (c1 <= c0) return;
  int64_t max_n = 0;
  for (int64_t i = 0; i < m; ++i) max_n = std::max(max_n, g.queries[i].n_kv & ~int64_t{7});
  const E* v = static_cast<const E*>(g.v);
  for (int64_t j0 = 0; j0 < max_n && blocks > 0; j0 += kValueTile) {
    const E* vt = v + j0 * st;
    const int64_t n_tile = std::min(max_n, j0 + kValueTile) - j0;
    for (int64_t i0 = 0; i0 < m; i0 += kBlockQueries) {
      const QueryBlock b =
          query_block(g, w, i0, j0, n_tile, [](int64_t n_kv) { return n_kv & ~int64_t{7}; });
      const int64_t n = b.common;  // a multiple of 8, as every len is
      if (n > 0) {
        if (b.nq == 1)
          pv_columns<1, 8>(vt, st, c0, blocks, b.s, b.acc, D, n, i0 == 0 ? max_n - j0 : 0);
        else if (b.nq == 2)
          pv_columns<2, 4>(vt, st, c0, blocks, b.s, b.acc, D, n, i0 == 0 ? max_n - j0 : 0);
        else
          pv_columns<3, 4>(vt, st, c0, blocks, b.s, b.acc, D, n, i0 == 0 ? max_n - j0 : 0);
      }
      for (int i = 0; i < b.nq; ++i) {
        if (b.len[i] == n) continue;
        const float* s_rest[1] = {b.s[i] + n};
        float* const acc_one[1] = {b.acc[i]};
        pv_columns<1, 8>(vt + n * st, st, c0, blocks, s_rest, acc_one, D, b.len[i] - n, 0);
      }
    }
  }
  for (int64_t i = 0; i < m; ++i)
    pv_finish<E>(g, w.scores(i), w.acc(i), g.queries[i].n_kv, c0, c1, g.queries[i].out);
}

template <typename E>
void attend_group_typed(const AttendGroupArgs& g) {
  const int64_t m = g.n_queries;
  if (m <= 0) return;
  const GroupScratch w(g);
  switch (g.phase) {
    case AttendPhase::kScores:
      return scores_phase<E>(g, w, g.begin, g.end, g.maxima);
    case AttendPhase::kSoftmax:
      return softmax_phase(g, w, g.begin, g.end, g.maxima);
    case AttendPhase::kValues:
      return values_phase<E>(g, w, g.begin, g.end);
    case AttendPhase::kAll:
      break;
  }
  // Max is exact in any order, so per-tile maxima give attend()'s.
  float mx_stack[64];
  std::vector<float> mx_heap;
  float* mx = mx_stack;
  if (m > 64) mx_heap.resize(static_cast<size_t>(m)), mx = mx_heap.data();
  scores_phase<E>(g, w, 0, w.s_len, mx);
  softmax_phase(g, w, 0, m, mx);
  values_phase<E>(g, w, 0, g.head_dim);
}

template <typename E>
void attend_typed(const AttendArgs& a) {
  AttendQuery q{a.q, a.n_kv, a.out};
  AttendGroupArgs g;
  g.k = a.k, g.v = a.v, g.kv_type = a.kv_type, g.kv_stride = a.kv_stride;
  g.head_dim = a.head_dim, g.scale = a.scale, g.order = a.order, g.queries = &q, g.n_queries = 1;
  // One query: its scores and acc are where the caller put them.
  const int64_t D = a.head_dim, n = a.n_kv;
  const E* k = static_cast<const E*>(a.k);
  const E* v = static_cast<const E*>(a.v);
  float mx =
      score_range(g, k, a.kv_stride, a.q, a.scores, n, -std::numeric_limits<float>::infinity());
  softmax_scores(a.scores, n, mx);
  std::fill(a.acc, a.acc + 8 * D, 0.0f);
  const float* s1[1] = {a.scores};
  float* const acc1[1] = {a.acc};
  pv_columns<1, 8>(v, a.kv_stride, 0, D / 8, s1, acc1, D, n & ~int64_t{7}, 0);
  pv_finish<E>(g, a.scores, a.acc, n, 0, D, a.out);
}

}  // namespace

void attend_group(const AttendGroupArgs& g) {
  if (g.kv_type == KvType::kF16)
    attend_group_typed<uint16_t>(g);
  else
    attend_group_typed<float>(g);
}

void attend(const AttendArgs& a) {
  if (a.kv_type == KvType::kF16)
    attend_typed<uint16_t>(a);
  else
    attend_typed<float>(a);
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
