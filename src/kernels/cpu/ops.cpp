// Row-wise float32 ops. Numerics chosen to match ggml where it matters for
// agreement with llama.cpp: rms_norm sums float squares in double; softmax sums
// exponentials in double; rope angles are built in float by repeated
// multiplication and the rotation rounded as fma, exactly as ggml's x86 build
// does (tests/kernels_ops_test.cpp holds it bit-exact to ggml_rope_ext).
#include "kernels/cpu/ops.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/cpu/dispatch.h"

namespace frugal::kernels {

void rms_norm(const float* x, const float* w, float* y, int64_t n, float eps) {
  double sum = 0.0;
  // Squares rounded to float, summed in double: ggml's rms_norm order.
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i] * x[i]);
  const float mean = static_cast<float>(sum / static_cast<double>(n));
  const float scale = 1.0f / std::sqrt(mean + eps);
  for (int64_t i = 0; i < n; ++i) y[i] = (x[i] * scale) * w[i];
}

void rope_angles(int64_t head_dim, int64_t pos, float theta, const float* freq_factors, float* cos,
                 float* sin) {
  const int64_t half = head_dim / 2;
  // theta_i = pos * base^(-2i / D), divided by the pair's frequency factor.
  // Built up by one float multiplication per pair, in float, as ggml does:
  // the closed form in double differs by a few ulp, and those ulps, fed
  // through Q8 activation rounding in later layers, grow into visible logit
  // differences from llama.cpp.
  const float step = std::pow(theta, -2.0f / static_cast<float>(head_dim));
  float angle_i = static_cast<float>(pos);
  for (int64_t i = 0; i < half; ++i, angle_i *= step) {
    const float angle = freq_factors != nullptr ? angle_i / freq_factors[i] : angle_i;
    cos[i] = std::cos(angle);
    sin[i] = std::sin(angle);
  }
}

void rope_rotate(float* x, int64_t head_dim, bool neox, const float* cos, const float* sin) {
  const int64_t half = head_dim / 2;
  for (int64_t i = 0; i < half; ++i) {
    const int64_t a = neox ? i : 2 * i;  // first element of the pair
    const int64_t b = neox ? i + half : 2 * i + 1;
    const float x0 = x[a], x1 = x[b], c = cos[i], s = sin[i];
    // Rounded as llama.cpp's x86 build rounds them: its compiler contracts
    // x0*c - x1*s into fma(x0, c, -(x1*s)) (and likewise the second line).
    x[a] = std::fma(x0, c, -(x1 * s));
    x[b] = std::fma(x0, s, x1 * c);
  }
}

void rope(float* x, int64_t head_dim, int64_t pos, float theta, bool neox,
          const float* freq_factors) {
  constexpr int64_t kStackPairs = 256;
  float cos_stack[kStackPairs], sin_stack[kStackPairs];
  std::vector<float> heap;
  float *cos = cos_stack, *sin = sin_stack;
  if (head_dim / 2 > kStackPairs) {
    heap.resize(static_cast<size_t>(head_dim / 2) * 2);
    cos = heap.data(), sin = heap.data() + head_dim / 2;
  }
  rope_angles(head_dim, pos, theta, freq_factors, cos, sin);
  rope_rotate(x, head_dim, neox, cos, sin);
}

void softmax(float* x, int64_t n) {
  float max = -std::numeric_limits<float>::infinity();
  for (int64_t i = 0; i < n; ++i) max = std::max(max, x[i]);
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - max);
    sum += x[i];
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

void swiglu(const float* gate, const float* up, float* out, int64_t n) {
  active_kernels().swiglu(gate, up, out, n);
}

void attend(const AttendArgs& a) {
  active_kernels().attend(a);
}

void attend_group_with(const KernelTable& t, const AttendGroupArgs& g) {
  if (t.attend_group) return t.attend_group(g);
  int64_t max_n = 0;
  for (int64_t i = 0; i < g.n_queries; ++i) max_n = std::max(max_n, g.queries[i].n_kv);
  AttendArgs a;
  a.k = g.k, a.v = g.v, a.kv_type = g.kv_type, a.kv_stride = g.kv_stride;
  a.head_dim = g.head_dim;
  a.scale = g.scale, a.order = g.order;
  a.scores = g.scratch;                          // [n_kv rounded up to 8]
  a.acc = g.scratch + attend_scores_len(max_n);  // [8, D]
  for (int64_t i = 0; i < g.n_queries; ++i) {
    a.q = g.queries[i].q, a.n_kv = g.queries[i].n_kv, a.out = g.queries[i].out;
    t.attend(a);
  }
}

void attend_group(const AttendGroupArgs& g) {
  attend_group_with(active_kernels(), g);
}

}  // namespace frugal::kernels
