// Scalar reference of attend() and swiglu(): the lane structure of the AVX2
// kernels written out element by element (attention.h says why the order is
// fixed). Float adds and multiplies here are never contracted into fma: this
// file is compiled for baseline x86-64, which has no fma instruction; every
// fused step is an explicit std::fma.
#include <algorithm>
#include <limits>
#include <vector>

#include "kernels/cpu/attention.h"
#include "kernels/cpu/ref/vec_dot_ref.h"
#include "tensor/fp16.h"

namespace frugal::kernels::ref {
namespace {

// Cached element i as float: a half is widened exactly.
inline float kv_at(const float* p, int64_t i) {
  return p[i];
}
inline float kv_at(const uint16_t* p, int64_t i) {
  return tensor::fp16_to_fp32(p[i]);
}

// (l0 + l2) + (l1 + l3) of a[l] = x[l + 4] + x[l]: the reduction of one
// 8-lane register used by tinyBLAS and ggml's softmax sum.
float hsum8(const float* x) {
  float a[4];
  for (int l = 0; l < 4; ++l) a[l] = x[l + 4] + x[l];
  return (a[0] + a[2]) + (a[1] + a[3]);
}

template <typename E>
float score_single(const float* q, const E* k, int64_t D) {
  float acc[8] = {};
  int64_t i = 0;
  for (; i + 8 <= D; i += 8)
    for (int l = 0; l < 8; ++l) acc[l] = std::fma(kv_at(k, i + l), q[i + l], acc[l]);
  float s = hsum8(acc);
  for (; i < D; ++i) s = std::fma(kv_at(k, i), q[i], s);
  return s;
}

template <typename E>
float score_batch(const float* q, const E* k, int64_t D) {
  float acc[4][8] = {};
  const int64_t np = D & ~int64_t{31};
  for (int64_t i = 0; i < np; i += 32)
    for (int r = 0; r < 4; ++r)
      for (int l = 0; l < 8; ++l)
        acc[r][l] = std::fma(kv_at(k, i + 8 * r + l), q[i + 8 * r + l], acc[r][l]);
  for (int l = 0; l < 8; ++l) {
    acc[0][l] = acc[0][l] + acc[2][l];
    acc[1][l] = acc[1][l] + acc[3][l];
  }
  for (int l = 0; l < 8; ++l) acc[0][l] = acc[0][l] + acc[1][l];
  float t[4];
  for (int l = 0; l < 4; ++l) t[l] = acc[0][l] + acc[0][l + 4];
  float s = (t[0] + t[1]) + (t[2] + t[3]);
  for (int64_t i = np; i < D; ++i) s = std::fma(kv_at(k, i), q[i], s);
  return s;
}

template <typename E>
void attend_typed(const AttendArgs& a) {
  const E* k = static_cast<const E*>(a.k);
  const E* v = static_cast<const E*>(a.v);
  const int64_t D = a.head_dim, n = a.n_kv, n8 = attend_scores_len(n);
  float* s = a.scores;  // [n8]
  float mx = -std::numeric_limits<float>::infinity();
  for (int64_t j = 0; j < n; ++j) {
    const E* kj = k + j * a.kv_stride;
    const float dot =
        a.order == ScoreOrder::kSingle ? score_single(a.q, kj, D) : score_batch(a.q, kj, D);
    s[j] = dot * a.scale;
    mx = std::max(mx, s[j]);
  }
  double sum = 0.0;
  for (int64_t g = 0; g < n8; g += 8) {
    for (int64_t j = g; j < g + 8; ++j) s[j] = j < n ? expf_poly(s[j] - mx) : 0.0f;
    sum += static_cast<double>(hsum8(s + g));
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (int64_t j = 0; j < n; ++j) s[j] *= inv;

  float* acc = a.acc;  // [8, D]: lane = position mod 8
  std::fill(acc, acc + 8 * D, 0.0f);
  for (int64_t j = 0; j < n; ++j) {
    const E* vj = v + j * a.kv_stride;
    float* row = acc + (j % 8) * D;
    for (int64_t d = 0; d < D; ++d) row[d] = std::fma(kv_at(vj, d), s[j], row[d]);
  }
  for (int64_t d = 0; d < D; ++d) {
    float lanes[8];
    for (int l = 0; l < 8; ++l) lanes[l] = acc[l * D + d];
    a.out[d] = hsum8(lanes);
  }
}

// attend_group's phases (attention.h), the arithmetic of attend_typed split
// by positions, queries and columns. Scratch per query: scores [s_len], then
// P.V lanes [8, D].
template <typename E>
void attend_group_typed(const AttendGroupArgs& g) {
  const int64_t m = g.n_queries, D = g.head_dim;
  if (m <= 0) return;
  int64_t max_n = 0;
  for (int64_t i = 0; i < m; ++i) max_n = std::max(max_n, g.queries[i].n_kv);
  const int64_t s_len = attend_scores_len(max_n), per_q = s_len + attend_acc_len(D);
  auto scores = [&](int64_t i) { return g.scratch + i * per_q; };       // [s_len]
  auto acc = [&](int64_t i) { return g.scratch + i * per_q + s_len; };  // [8, D]
  const E* k = static_cast<const E*>(g.k);
  const E* v = static_cast<const E*>(g.v);

  auto score_part = [&](int64_t p0, int64_t p1, float* mx) {
    for (int64_t i = 0; i < m; ++i) {
      mx[i] = -std::numeric_limits<float>::infinity();
      const float* q = g.queries[i].q;
      for (int64_t j = p0; j < std::min(p1, g.queries[i].n_kv); ++j) {
        const E* kj = k + j * g.kv_stride;
        const float dot =
            g.order == ScoreOrder::kSingle ? score_single(q, kj, D) : score_batch(q, kj, D);
        scores(i)[j] = dot * g.scale;
        mx[i] = std::max(mx[i], scores(i)[j]);
      }
    }
  };
  auto softmax_part = [&](int64_t i0, int64_t i1, const float* mx) {
    for (int64_t i = i0; i < i1; ++i) {
      float* s = scores(i);
      const int64_t n = g.queries[i].n_kv, n8 = attend_scores_len(n);
      double sum = 0.0;
      for (int64_t b = 0; b < n8; b += 8) {
        for (int64_t j = b; j < b + 8; ++j) s[j] = j < n ? expf_poly(s[j] - mx[i]) : 0.0f;
        sum += static_cast<double>(hsum8(s + b));
      }
      const float inv = static_cast<float>(1.0 / sum);
      for (int64_t j = 0; j < n; ++j) s[j] *= inv;
      std::fill(acc(i), acc(i) + 8 * D, 0.0f);
    }
  };
  auto value_part = [&](int64_t c0, int64_t c1) {
    for (int64_t i = 0; i < m; ++i) {
      const float* s = scores(i);
      float* a = acc(i);  // lane = position mod 8
      for (int64_t j = 0; j < g.queries[i].n_kv; ++j) {
        const E* vj = v + j * g.kv_stride;
        float* row = a + (j % 8) * D;
        for (int64_t d = c0; d < c1; ++d) row[d] = std::fma(kv_at(vj, d), s[j], row[d]);
      }
      for (int64_t d = c0; d < c1; ++d) {
        float lanes[8];
        for (int l = 0; l < 8; ++l) lanes[l] = a[l * D + d];
        g.queries[i].out[d] = hsum8(lanes);
      }
    }
  };

  switch (g.phase) {
    case AttendPhase::kScores:
      return score_part(g.begin, g.end, g.maxima);
    case AttendPhase::kSoftmax:
      return softmax_part(g.begin, g.end, g.maxima);
    case AttendPhase::kValues:
      return value_part(g.begin, g.end);
    case AttendPhase::kAll:
      break;
  }
  std::vector<float> mx(static_cast<size_t>(m));
  score_part(0, max_n, mx.data());
  softmax_part(0, m, mx.data());
  value_part(0, D);
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
  for (; i + 8 <= n; i += 8)
    for (int64_t l = i; l < i + 8; ++l)
      out[l] = (gate[l] / (1.0f + expf_poly(0.0f - gate[l]))) * up[l];
  // ggml's tail (n not a multiple of 8) uses the C library's expf.
  for (; i < n; ++i) out[i] = (gate[i] / (1.0f + std::exp(-gate[i]))) * up[i];
}

}  // namespace frugal::kernels::ref
