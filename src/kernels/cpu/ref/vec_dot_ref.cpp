// Scalar reference dots, legacy and float types. Integer products are summed
// exactly per block; the float scaling follows llama.cpp's generic kernels
// (same products, same order) so results track llama.cpp closely.
#include "kernels/cpu/ref/vec_dot_ref.h"

#include <cstring>

#include "tensor/blocks.h"
#include "tensor/fp16.h"

namespace frugal::kernels::ref {

using namespace frugal::tensor;

namespace {

// Eight independent float lanes: a fixed summation order that compilers can
// vectorize without -ffast-math.
constexpr int kLanes = 8;

template <class Load>
float lane_dot(const float* x, int64_t n, Load load) {
  float acc[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int l = 0; l < kLanes; ++l) acc[l] += load(i + l) * x[i + l];
  }
  for (; i < n; ++i) acc[i % kLanes] += load(i) * x[i];
  float s = 0;
  for (float a : acc) s += a;
  return s;
}

}  // namespace

float dot_f32_f32(const void* w, const void* x, int64_t n) {
  const auto* wf = static_cast<const float*>(w);
  return lane_dot(static_cast<const float*>(x), n, [wf](int64_t i) { return wf[i]; });
}

float dot_f16_f32(const void* w, const void* x, int64_t n) {
  const auto* wh = static_cast<const uint16_t*>(w);
  return lane_dot(static_cast<const float*>(x), n, [wh](int64_t i) { return fp16_to_fp32(wh[i]); });
}

float dot_bf16_f32(const void* w, const void* x, int64_t n) {
  const auto* wh = static_cast<const uint16_t*>(w);
  return lane_dot(static_cast<const float*>(x), n, [wh](int64_t i) { return bf16_to_fp32(wh[i]); });
}

namespace {

// sum_j q[j] * a[j] over one 32-element block with 4-bit codes `low` in
// nibbles (element j in low nibble of qs[j], j+16 in the high one), offset.
int nibble_dot(const uint8_t* qs, const int8_t* a, int offset) {
  int s0 = 0, s1 = 0;
  for (int j = 0; j < kQK / 2; ++j) {
    s0 += ((qs[j] & 0xF) - offset) * a[j];
    s1 += ((qs[j] >> 4) - offset) * a[j + kQK / 2];
  }
  return s0 + s1;
}

int q5_dot(const uint8_t* qs, const uint8_t* qh_bytes, const int8_t* a, int offset) {
  uint32_t qh;
  std::memcpy(&qh, qh_bytes, 4);
  int s0 = 0, s1 = 0;
  for (int j = 0; j < kQK / 2; ++j) {
    const int h0 = static_cast<int>((qh >> j) & 1u) << 4;
    const int h1 = static_cast<int>((qh >> (j + kQK / 2)) & 1u) << 4;
    s0 += (((qs[j] & 0xF) | h0) - offset) * a[j];
    s1 += (((qs[j] >> 4) | h1) - offset) * a[j + kQK / 2];
  }
  return s0 + s1;
}

}  // namespace

float dot_q4_0_q8_0(const void* w, const void* act, int64_t n) {
  const auto* x = static_cast<const BlockQ4_0*>(w);
  const auto* y = static_cast<const BlockQ8_0*>(act);
  float sumf = 0;
  for (int64_t i = 0; i < n / kQK; ++i) {
    const int sumi = nibble_dot(x[i].qs, y[i].qs, 8);
    sumf += static_cast<float>(sumi) * fp16_to_fp32(x[i].d) * fp16_to_fp32(y[i].d);
  }
  return sumf;
}

float dot_q5_0_q8_0(const void* w, const void* act, int64_t n) {
  const auto* x = static_cast<const BlockQ5_0*>(w);
  const auto* y = static_cast<const BlockQ8_0*>(act);
  float sumf = 0;
  for (int64_t i = 0; i < n / kQK; ++i) {
    const int sumi = q5_dot(x[i].qs, x[i].qh, y[i].qs, 16);
    sumf += (fp16_to_fp32(x[i].d) * fp16_to_fp32(y[i].d)) * static_cast<float>(sumi);
  }
  return sumf;
}

float dot_q8_0_q8_0(const void* w, const void* act, int64_t n) {
  const auto* x = static_cast<const BlockQ8_0*>(w);
  const auto* y = static_cast<const BlockQ8_0*>(act);
  float sumf = 0;
  for (int64_t i = 0; i < n / kQK; ++i) {
    int sumi = 0;
    for (int j = 0; j < kQK; ++j) sumi += x[i].qs[j] * y[i].qs[j];
    sumf += static_cast<float>(sumi) * (fp16_to_fp32(x[i].d) * fp16_to_fp32(y[i].d));
  }
  return sumf;
}

// With a min m per weight block: sum (d_w q_w + m)(d_a q_a) = d_w d_a sum(q_w q_a) + m * s_a,
// where s_a = d_a * sum(q_a) is stored in the Q8_1 block.
float dot_q4_1_q8_1(const void* w, const void* act, int64_t n) {
  const auto* x = static_cast<const BlockQ4_1*>(w);
  const auto* y = static_cast<const BlockQ8_1*>(act);
  float sumf = 0;
  for (int64_t i = 0; i < n / kQK; ++i) {
    const int sumi = nibble_dot(x[i].qs, y[i].qs, 0);
    sumf += (fp16_to_fp32(x[i].d) * fp16_to_fp32(y[i].d)) * static_cast<float>(sumi) +
            fp16_to_fp32(x[i].m) * fp16_to_fp32(y[i].s);
  }
  return sumf;
}

float dot_q5_1_q8_1(const void* w, const void* act, int64_t n) {
  const auto* x = static_cast<const BlockQ5_1*>(w);
  const auto* y = static_cast<const BlockQ8_1*>(act);
  float sumf = 0;
  for (int64_t i = 0; i < n / kQK; ++i) {
    const int sumi = q5_dot(x[i].qs, x[i].qh, y[i].qs, 0);
    sumf += (fp16_to_fp32(x[i].d) * fp16_to_fp32(y[i].d)) * static_cast<float>(sumi) +
            fp16_to_fp32(x[i].m) * fp16_to_fp32(y[i].s);
  }
  return sumf;
}

}  // namespace frugal::kernels::ref
