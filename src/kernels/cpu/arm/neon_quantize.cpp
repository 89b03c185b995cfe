// NEON activation quantizers for both AArch64 tables. Their output must be
// byte-identical to tensor::quantize_act_q8_{0,1} and
// tensor::quantize_row_q8_k (tests/kernels_simd_test.cpp checks it), so each
// float step is the reference's: the same products x * id, the same rounding
// (FCVTNS: nearest, ties to even, as the reference's nearbyint and
// nearest_int), the same scalar scale arithmetic. Max and integer sums do not
// depend on order, so they use across-lane reductions. Baseline Armv8-A.
// The row loops mirror x86/avx2_quantize.cpp's on purpose: only one of the
// two folders is compiled in a build, and a shared header of inline code
// would put one ISA's compiled copy where the other's flags were meant.
#include <arm_neon.h>

#include <cmath>
#include <cstring>

#include "kernels/cpu/arm/neon_table.h"
#include "tensor/blocks.h"

namespace frugal::kernels::neon {
namespace {

using tensor::BlockQ8_0;
using tensor::BlockQ8_1;
using tensor::BlockQ8_K;
using tensor::kQK;
using tensor::kQKK;

// IEEE float to half, round to nearest even (FCVT under the default FPCR),
// the bits tensor::fp32_to_fp16 gives.
uint16_t half_bits(float f) {
  const __fp16 h = static_cast<__fp16>(f);
  uint16_t u;
  std::memcpy(&u, &h, 2);
  return u;
}

// 16 int32 in int8 range (4 registers, elements in order) -> 16 int8.
int8x16_t narrow16(const int32x4_t* q) {
  const int16x8_t lo = vcombine_s16(vmovn_s32(q[0]), vmovn_s32(q[1]));
  const int16x8_t hi = vcombine_s16(vmovn_s32(q[2]), vmovn_s32(q[3]));
  return vcombine_s8(vmovn_s16(lo), vmovn_s16(hi));
}

// One 32-element block of Q8_0/Q8_1: stores the codes, returns d and sum(qs).
float q8_block(const float* x, int8_t* qs, int32_t* sum) {
  float32x4_t v[8];  // [elements 4k .. 4k + 3]
  // Max-number semantics (NaN ignored), as the reference's `fabs(x) > amax`.
  float32x4_t amax = vdupq_n_f32(0.0f);
  for (int k = 0; k < 8; ++k) {
    v[k] = vld1q_f32(x + 4 * k);
    amax = vmaxnmq_f32(amax, vabsq_f32(v[k]));
  }
  const float max = vmaxnmvq_f32(amax);
  const float d = max / 127.0f;
  const float id = max != 0.0f ? 127.0f / max : 0.0f;
  int32x4_t q[8];  // [elements 4k .. 4k + 3]
  int32x4_t s = vdupq_n_s32(0);
  for (int k = 0; k < 8; ++k) {
    q[k] = vcvtnq_s32_f32(vmulq_n_f32(v[k], id));
    s = vaddq_s32(s, q[k]);
  }
  vst1q_s8(qs, narrow16(q));
  vst1q_s8(qs + 16, narrow16(q + 4));
  *sum = vaddvq_s32(s);
  return d;
}

void quantize_row_q8_0(const float* x, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ8_0*>(dst);
  for (int64_t i = 0; i < n / kQK; ++i, x += kQK) {
    int32_t sum;
    b[i].d = half_bits(q8_block(x, b[i].qs, &sum));
  }
}

void quantize_row_q8_1(const float* x, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ8_1*>(dst);
  for (int64_t i = 0; i < n / kQK; ++i, x += kQK) {
    int32_t sum;
    const float d = q8_block(x, b[i].qs, &sum);
    b[i].d = half_bits(d);
    b[i].s = half_bits(static_cast<float>(sum) * d);
  }
}

void quantize_row_q8_k(const float* x, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ8_K*>(dst);
  for (int64_t i = 0; i < n / kQKK; ++i, x += kQKK) {
    float32x4_t vmax = vdupq_n_f32(0.0f);
    for (int k = 0; k < kQKK / 4; ++k) vmax = vmaxnmq_f32(vmax, vabsq_f32(vld1q_f32(x + 4 * k)));
    const float amax = vmaxnmvq_f32(vmax);
    if (amax == 0.0f) {
      std::memset(&b[i], 0, sizeof(BlockQ8_K));
      continue;
    }
    // The reference keeps the first element of largest magnitude, with its sign.
    float max = amax;
    const float32x4_t vamax = vdupq_n_f32(amax);
    for (int k = 0; k < kQKK / 4; ++k) {
      if (vmaxvq_u32(vceqq_f32(vabsq_f32(vld1q_f32(x + 4 * k)), vamax)) == 0) continue;
      int l = 0;
      while (std::fabs(x[4 * k + l]) != amax) ++l;
      max = x[4 * k + l];
      break;
    }
    const float iscale = -127.0f / max;
    const int32x4_t top = vdupq_n_s32(127);
    for (int g = 0; g < kQKK / 16; ++g) {
      int32x4_t q[4];  // [elements 16g + 4k .. + 3]
      for (int k = 0; k < 4; ++k) {
        const float32x4_t p = vmulq_n_f32(vld1q_f32(x + 16 * g + 4 * k), iscale);
        q[k] = vminq_s32(vcvtnq_s32_f32(p), top);
      }
      vst1q_s8(b[i].qs + 16 * g, narrow16(q));
      b[i].bsums[g] =
          static_cast<int16_t>(vaddvq_s32(vaddq_s32(vaddq_s32(q[0], q[1]), vaddq_s32(q[2], q[3]))));
    }
    b[i].d = 1.0f / iscale;
  }
}

}  // namespace

void fill_quantizers(KernelTable& t) {
  using gguf::GgmlType;
  for (DotKernel& k : t.by_type) {
    if (k.quantize_act == nullptr) continue;  // float activations
    switch (k.act_type) {
      case GgmlType::Q8_0:
        k.quantize_act = quantize_row_q8_0;
        break;
      case GgmlType::Q8_1:
        k.quantize_act = quantize_row_q8_1;
        break;
      case GgmlType::Q8_K:
        k.quantize_act = quantize_row_q8_k;
        break;
      default:
        break;
    }
  }
}

}  // namespace frugal::kernels::neon
