// The AArch64 dot kernels, written once over the 8-bit dot primitive `D`
// (D::dot(acc, a, b): acc's 4 int32 lanes += the products of a and b, 4 per
// lane) and instantiated twice: neon_dot.cpp (SMULL + SADALP, any Armv8-A)
// and neon_dotprod.cpp (SDOT). Everything here has internal linkage on
// purpose: each file compiles its own copy with its own flags, so the linker
// can never hand the baseline table a function built for SDOT.
//
// Semantics are those of the cpu/ref twins: the same per-block integer sums
// of codes times activation codes (exact in int32), then scaled in float;
// only the float accumulation order differs (4 lanes per token). Every kernel
// is a tile over NT = 1..kDotTile tokens that decodes each weight block into
// registers once and keeps one accumulator set per token, so a token's bits
// do not depend on NT: `dot` is the tile with NT = 1.
//
// Lane bounds: a lane's int32 sum is converted to float once per block (per
// half block for Q6_K) while it is at most 2^24, so the conversion is exact:
// Q4_K/Q5_K 8 sub-blocks x 8 products x 31 x 128 x 63 < 2^24; Q6_K 8 chunks
// x 4 products x 32 x 128 x 128 = 2^24.
#pragma once

#include <arm_neon.h>

#include <cstdint>
#include <cstring>

#include "kernels/cpu/dispatch.h"
#include "tensor/blocks.h"

namespace frugal::kernels::neon {
namespace {

using tensor::BlockQ4_0;
using tensor::BlockQ4_K;
using tensor::BlockQ5_K;
using tensor::BlockQ6_K;
using tensor::BlockQ8_0;
using tensor::BlockQ8_K;
using tensor::kQK;
using tensor::kQKK;

static_assert(kDotTile == 4, "tile() below instantiates NT = 1..4");

// IEEE half to float: exact for every half (AArch64 converts in hardware),
// so the same value tensor::fp16_to_fp32 gives.
inline float f16(uint16_t h) {
  __fp16 x;
  std::memcpy(&x, &h, 2);
  return static_cast<float>(x);
}

inline int8x16_t low_nibbles(uint8x16_t q) {
  return vreinterpretq_s8_u8(vandq_u8(q, vdupq_n_u8(0x0F)));
}
inline int8x16_t high_nibbles(uint8x16_t q) {
  return vreinterpretq_s8_u8(vshrq_n_u8(q, 4));
}

// Activation row t of a tile, as blocks of type B.
template <class B>
const B* act_row(const void* act, uint64_t stride, int t) {
  return reinterpret_cast<const B*>(static_cast<const uint8_t*>(act) + t * stride);
}

// ---- float weights x float activations -----------------------------------

struct LoadF32 {
  using T = float;
  static void load8(const T* w, float32x4_t* lo, float32x4_t* hi) {
    *lo = vld1q_f32(w);
    *hi = vld1q_f32(w + 4);
  }
  static float one(T w) { return w; }
};
struct LoadF16 {
  using T = uint16_t;
  static void load8(const T* w, float32x4_t* lo, float32x4_t* hi) {
    const float16x8_t h = vreinterpretq_f16_u16(vld1q_u16(w));
    *lo = vcvt_f32_f16(vget_low_f16(h));
    *hi = vcvt_high_f32_f16(h);
  }
  static float one(T w) { return f16(w); }
};
struct LoadBF16 {
  using T = uint16_t;
  static void load8(const T* w, float32x4_t* lo, float32x4_t* hi) {
    const uint16x8_t h = vld1q_u16(w);
    *lo = vreinterpretq_f32_u32(vshll_n_u16(vget_low_u16(h), 16));
    *hi = vreinterpretq_f32_u32(vshll_high_n_u16(h, 16));
  }
  static float one(T w) {
    const uint32_t u = uint32_t{w} << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  }
};

template <class L>
struct FloatKernel {
  template <int NT>
  static void run(const void* w_row, const void* act, uint64_t stride, int64_t n, float* y,
                  int64_t ys) {
    const auto* w = static_cast<const typename L::T*>(w_row);
    float32x4_t acc[NT][2];  // [token][lanes 0-3, 4-7]
    for (int t = 0; t < NT; ++t) acc[t][0] = acc[t][1] = vdupq_n_f32(0.0f);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
      float32x4_t lo, hi;
      L::load8(w + i, &lo, &hi);
      for (int t = 0; t < NT; ++t) {
        const float* x = act_row<float>(act, stride, t) + i;
        acc[t][0] = vfmaq_f32(acc[t][0], lo, vld1q_f32(x));
        acc[t][1] = vfmaq_f32(acc[t][1], hi, vld1q_f32(x + 4));
      }
    }
    for (int t = 0; t < NT; ++t) {
      const float* x = act_row<float>(act, stride, t);
      float tail = 0.0f;
      for (int64_t j = i; j < n; ++j) tail += L::one(w[j]) * x[j];
      y[t * ys] = vaddvq_f32(vaddq_f32(acc[t][0], acc[t][1])) + tail;
    }
  }
};

// ---- legacy blocks x Q8_0 ---------------------------------------------------

// Q8_0 and Q4_0 differ only in how a block's 32 codes are unpacked into
// two registers (elements 0..15, 16..31).
struct Q8_0Codes {
  using Block = BlockQ8_0;
  static void unpack(const Block& b, int8x16_t* w) {
    w[0] = vld1q_s8(b.qs);
    w[1] = vld1q_s8(b.qs + 16);
  }
};

struct Q4_0Codes {
  using Block = BlockQ4_0;
  static void unpack(const Block& b, int8x16_t* w) {
    const uint8x16_t q = vld1q_u8(b.qs);
    w[0] = vsubq_s8(low_nibbles(q), vdupq_n_s8(8));
    w[1] = vsubq_s8(high_nibbles(q), vdupq_n_s8(8));
  }
};

template <class D, class C>
struct LegacyKernel {
  template <int NT>
  static void run(const void* w_row, const void* act, uint64_t stride, int64_t n, float* y,
                  int64_t ys) {
    const auto* x = static_cast<const typename C::Block*>(w_row);
    float32x4_t acc[NT];  // [token]
    for (int t = 0; t < NT; ++t) acc[t] = vdupq_n_f32(0.0f);
    for (int64_t i = 0; i < n / kQK; ++i) {
      int8x16_t w[2];  // [elements 0..15, 16..31]
      C::unpack(x[i], w);
      const float dw = f16(x[i].d);
      for (int t = 0; t < NT; ++t) {
        const BlockQ8_0& a = act_row<BlockQ8_0>(act, stride, t)[i];
        const int32x4_t p =
            D::dot(D::dot(vdupq_n_s32(0), w[0], vld1q_s8(a.qs)), w[1], vld1q_s8(a.qs + 16));
        acc[t] = vfmaq_n_f32(acc[t], vcvtq_f32_s32(p), dw * f16(a.d));
      }
    }
    for (int t = 0; t < NT; ++t) y[t * ys] = vaddvq_f32(acc[t]);
  }
};

// ---- K-quants x Q8_K --------------------------------------------------------

// sum over the 8 sub-blocks of 32 of (activation code sum) * min: bsums come
// per 16, so adjacent pairs are added first (each at most 2 * 16 * 128).
inline int32_t k4_min_term(const BlockQ8_K& a, int16x8_t mins) {
  const int16x8_t s = vpaddq_s16(vld1q_s16(a.bsums), vld1q_s16(a.bsums + 8));  // [8]
  const int32x4_t m = vmlal_high_s16(vmull_s16(vget_low_s16(s), vget_low_s16(mins)), s, mins);
  return vaddvq_s32(m);
}

// The shared part of Q4_K and Q5_K once a super-block's 256 codes are in
// codes[16] (16 per register, sub-block s in codes[2s], codes[2s + 1]).
template <class D, int NT>
void k4_tokens(const uint8_t* packed_scales, uint16_t d16, uint16_t dmin16, const int8x16_t* codes,
               const void* act, uint64_t stride, int64_t i, float32x4_t* acc, float* mins_acc) {
  uint8_t sc[8], mn[8];
  for (int j = 0; j < 8; ++j) tensor::k4_scale_min(j, packed_scales, &sc[j], &mn[j]);
  const int16x8_t mins = vreinterpretq_s16_u16(vmovl_u8(vld1_u8(mn)));
  const float d = f16(d16), dmin = f16(dmin16);
  for (int t = 0; t < NT; ++t) {
    const BlockQ8_K& a = act_row<BlockQ8_K>(act, stride, t)[i];
    int32x4_t isum = vdupq_n_s32(0);
    for (int s = 0; s < 8; ++s) {
      const int32x4_t p = D::dot(D::dot(vdupq_n_s32(0), codes[2 * s], vld1q_s8(a.qs + 32 * s)),
                                 codes[2 * s + 1], vld1q_s8(a.qs + 32 * s + 16));
      isum = vmlaq_n_s32(isum, p, sc[s]);
    }
    acc[t] = vfmaq_n_f32(acc[t], vcvtq_f32_s32(isum), d * a.d);
    mins_acc[t] += (dmin * a.d) * static_cast<float>(k4_min_term(a, mins));
  }
}

// Q4_K and Q5_K differ only in how a super-block's 256 codes are unpacked
// into codes[16] (sub-block s in codes[2s], codes[2s + 1]).
struct Q4_KCodes {
  using Block = BlockQ4_K;
  static void unpack(const Block& b, int8x16_t* codes) {
    for (int j = 0; j < 4; ++j) {  // 32 bytes hold sub-blocks 2j (low) and 2j+1 (high)
      const uint8x16_t q0 = vld1q_u8(b.qs + 32 * j), q1 = vld1q_u8(b.qs + 32 * j + 16);
      codes[4 * j + 0] = low_nibbles(q0);
      codes[4 * j + 1] = low_nibbles(q1);
      codes[4 * j + 2] = high_nibbles(q0);
      codes[4 * j + 3] = high_nibbles(q1);
    }
  }
};

struct Q5_KCodes {
  using Block = BlockQ5_K;
  static void unpack(const Block& b, int8x16_t* codes) {
    // The low 4 bits as Q4_K's; the high bit of element 64j + l (sub-block
    // 2j) is bit 2j of qh[l], of 64j + 32 + l (sub-block 2j+1) bit 2j+1;
    // l = 0..31 over two registers.
    const uint8x16_t h[2] = {vld1q_u8(b.qh), vld1q_u8(b.qh + 16)};
    const uint8x16_t bit4 = vdupq_n_u8(0x10);
    for (int j = 0; j < 4; ++j) {
      const uint8x16_t q0 = vld1q_u8(b.qs + 32 * j), q1 = vld1q_u8(b.qs + 32 * j + 16);
      const int8x16_t low4[4] = {low_nibbles(q0), low_nibbles(q1), high_nibbles(q0),
                                 high_nibbles(q1)};
      for (int k = 0; k < 4; ++k) {
        const uint8x16_t mask = vdupq_n_u8(static_cast<uint8_t>(1u << (2 * j + k / 2)));
        const uint8x16_t high = vandq_u8(vtstq_u8(h[k % 2], mask), bit4);
        codes[4 * j + k] = vorrq_s8(low4[k], vreinterpretq_s8_u8(high));
      }
    }
  }
};

template <class D, class C>
struct K4Kernel {
  template <int NT>
  static void run(const void* w_row, const void* act, uint64_t stride, int64_t n, float* y,
                  int64_t ys) {
    const auto* x = static_cast<const typename C::Block*>(w_row);
    float32x4_t acc[NT];  // [token]
    float mins_acc[NT];   // [token] the dmin * min terms, subtracted at the end
    for (int t = 0; t < NT; ++t) acc[t] = vdupq_n_f32(0.0f), mins_acc[t] = 0.0f;
    for (int64_t i = 0; i < n / kQKK; ++i) {
      int8x16_t codes[16];  // [sub-block 0..7][2 x 16 elements]
      C::unpack(x[i], codes);
      k4_tokens<D, NT>(x[i].scales, x[i].d, x[i].dmin, codes, act, stride, i, acc, mins_acc);
    }
    for (int t = 0; t < NT; ++t) y[t * ys] = vaddvq_f32(acc[t]) - mins_acc[t];
  }
};

template <class D>
struct Q6_KKernel {
  template <int NT>
  static void run(const void* w_row, const void* act, uint64_t stride, int64_t n, float* y,
                  int64_t ys) {
    const auto* x = static_cast<const BlockQ6_K*>(w_row);
    const uint8x16_t m4 = vdupq_n_u8(0x0F), m2 = vdupq_n_u8(0x03);
    const int8x16_t bias = vdupq_n_s8(32);
    float32x4_t acc[NT];  // [token]
    for (int t = 0; t < NT; ++t) acc[t] = vdupq_n_f32(0.0f);
    for (int64_t i = 0; i < n / kQKK; ++i) {
      const float d = f16(x[i].d);
      for (int half = 0; half < 2; ++half) {
        // 128 elements: low 4 bits from ql[64], high 2 bits from qh[32].
        const uint8_t* ql = x[i].ql + 64 * half;
        const uint8_t* qh = x[i].qh + 32 * half;
        const uint8x16_t l0 = vld1q_u8(ql), l1 = vld1q_u8(ql + 16), l2 = vld1q_u8(ql + 32),
                         l3 = vld1q_u8(ql + 48);
        const uint8x16_t h0 = vld1q_u8(qh), h1 = vld1q_u8(qh + 16);
        auto code = [&](uint8x16_t low4, uint8x16_t high2) {
          return vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(low4, vshlq_n_u8(high2, 4))), bias);
        };
        int8x16_t c[8];  // [chunk of 16 elements]
        c[0] = code(vandq_u8(l0, m4), vandq_u8(h0, m2));
        c[1] = code(vandq_u8(l1, m4), vandq_u8(h1, m2));
        c[2] = code(vandq_u8(l2, m4), vandq_u8(vshrq_n_u8(h0, 2), m2));
        c[3] = code(vandq_u8(l3, m4), vandq_u8(vshrq_n_u8(h1, 2), m2));
        c[4] = code(vshrq_n_u8(l0, 4), vandq_u8(vshrq_n_u8(h0, 4), m2));
        c[5] = code(vshrq_n_u8(l1, 4), vandq_u8(vshrq_n_u8(h1, 4), m2));
        c[6] = code(vshrq_n_u8(l2, 4), vshrq_n_u8(h0, 6));
        c[7] = code(vshrq_n_u8(l3, 4), vshrq_n_u8(h1, 6));
        const int8_t* sc = x[i].scales + 8 * half;
        for (int t = 0; t < NT; ++t) {
          const BlockQ8_K& a = act_row<BlockQ8_K>(act, stride, t)[i];
          const int8_t* aq = a.qs + 128 * half;
          int32x4_t isum = vdupq_n_s32(0);
          for (int k = 0; k < 8; ++k) {
            isum = vmlaq_n_s32(isum, D::dot(vdupq_n_s32(0), c[k], vld1q_s8(aq + 16 * k)), sc[k]);
          }
          acc[t] = vfmaq_n_f32(acc[t], vcvtq_f32_s32(isum), d * a.d);
        }
      }
    }
    for (int t = 0; t < NT; ++t) y[t * ys] = vaddvq_f32(acc[t]);
  }
};

// ---- table entries ----------------------------------------------------------

template <class K>
void tile(const void* w, const void* act, uint64_t stride, int64_t n, int nt, float* y,
          int64_t ys) {
  switch (nt) {
    case 1:
      K::template run<1>(w, act, stride, n, y, ys);
      break;
    case 2:
      K::template run<2>(w, act, stride, n, y, ys);
      break;
    case 3:
      K::template run<3>(w, act, stride, n, y, ys);
      break;
    default:
      K::template run<4>(w, act, stride, n, y, ys);
      break;
  }
}

template <class K>
float dot(const void* w, const void* act, int64_t n) {
  float y = 0.0f;
  K::template run<1>(w, act, 0, n, &y, 1);
  return y;
}

// Puts the kernels above into `t` (a copy of the reference table): dot and
// tile per type; activation quantizers, attention and SwiGLU stay the
// reference ones, and no dot_block or GEMM (matmul then tiles rows x tokens).
template <class D>
void fill(KernelTable& t) {
  using gguf::GgmlType;
  auto set = [&t](GgmlType w, VecDotFn d, VecDotTileFn tl) {
    DotKernel& k = t.by_type[static_cast<uint32_t>(w)];
    k.dot = d;
    k.dot_tile = tl;
    k.dot_block = nullptr;
    k.gemm = nullptr;
  };
  set(GgmlType::F32, dot<FloatKernel<LoadF32>>, tile<FloatKernel<LoadF32>>);
  set(GgmlType::F16, dot<FloatKernel<LoadF16>>, tile<FloatKernel<LoadF16>>);
  set(GgmlType::BF16, dot<FloatKernel<LoadBF16>>, tile<FloatKernel<LoadBF16>>);
  set(GgmlType::Q4_0, dot<LegacyKernel<D, Q4_0Codes>>, tile<LegacyKernel<D, Q4_0Codes>>);
  set(GgmlType::Q8_0, dot<LegacyKernel<D, Q8_0Codes>>, tile<LegacyKernel<D, Q8_0Codes>>);
  set(GgmlType::Q4_K, dot<K4Kernel<D, Q4_KCodes>>, tile<K4Kernel<D, Q4_KCodes>>);
  set(GgmlType::Q5_K, dot<K4Kernel<D, Q5_KCodes>>, tile<K4Kernel<D, Q5_KCodes>>);
  set(GgmlType::Q6_K, dot<Q6_KKernel<D>>, tile<Q6_KKernel<D>>);
}

}  // namespace
}  // namespace frugal::kernels::neon
