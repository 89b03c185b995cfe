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
// runs R weight rows x NT = 1..kDotTile tokens, decodes each weight block into
// registers once and keeps one accumulator set per row and token, so a
// token's bits do not depend on R or NT: `dot` is the kernel with R = NT = 1.
//
// Lane bounds: a lane's int32 sum is converted to float once per block (per
// half block for Q6_K) while it is at most 2^24, so the conversion is exact:
// Q4_K/Q5_K 8 sub-blocks x 8 products x 31 x 128 x 63 < 2^24; Q6_K 8 chunks
// x 4 products x 32 x 128 x 128 = 2^24.
#pragma once

#include <arm_neon.h>

#include <cstdint>
#include <cstring>

#include "kernels/cpu/arm/neon_table.h"
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

// Weight row r of a group of rows w_row_bytes apart, as blocks of type B.
template <class B>
const B* w_row(const uint8_t* w, uint64_t w_row_bytes, int r) {
  return reinterpret_cast<const B*>(w + r * w_row_bytes);
}

// Every kernel below is K::run<NT, R>: R weight rows (w_row_bytes apart)
// times NT activation rows, y[t * ys + r]. Row r's float operations are the
// same, in the same order, for every R and NT (only its integer sums may be
// formed in another order, which is exact), so dot (R = NT = 1), tile and
// dot_block give a row the same bits. R > 1 shares each activation load
// between rows and gives the FMA units independent chains: at NT = 1 a
// single row's accumulator is one dependent chain per block.

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

// Float rows stream 4-8x more bytes than the quantized ones and only serve
// small tensors here, so there is no multi-row form (no dot_block).
template <class L>
struct FloatKernel {
  template <int NT, int R>
  static void run(const uint8_t* w_rows, uint64_t w_row_bytes, const void* act, uint64_t stride,
                  int64_t n, float* y, int64_t ys) {
    static_assert(R == 1, "float rows run one at a time");
    (void)w_row_bytes;
    const auto* w = reinterpret_cast<const typename L::T*>(w_rows);
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
  static constexpr int kRows = 4;  // rows per dot_block group: 4 x 4 accumulators at NT = 4
  template <int NT, int R>
  static void run(const uint8_t* w, uint64_t w_row_bytes, const void* act, uint64_t stride,
                  int64_t n, float* y, int64_t ys) {
    using Block = typename C::Block;
    float32x4_t acc[R][NT];  // [row][token]
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < NT; ++t) acc[r][t] = vdupq_n_f32(0.0f);
    for (int64_t i = 0; i < n / kQK; ++i) {
      int8x16_t a[NT][2];  // [token][elements 0..15, 16..31]
      float da[NT];        // [token] activation block scale
      for (int t = 0; t < NT; ++t) {
        const BlockQ8_0& ab = act_row<BlockQ8_0>(act, stride, t)[i];
        a[t][0] = vld1q_s8(ab.qs);
        a[t][1] = vld1q_s8(ab.qs + 16);
        da[t] = f16(ab.d);
      }
      for (int r = 0; r < R; ++r) {
        const Block& b = w_row<Block>(w, w_row_bytes, r)[i];
        int8x16_t c[2];  // [elements 0..15, 16..31]
        C::unpack(b, c);
        const float dw = f16(b.d);
        for (int t = 0; t < NT; ++t) {
          const int32x4_t p = D::dot(D::dot(vdupq_n_s32(0), c[0], a[t][0]), c[1], a[t][1]);
          acc[r][t] = vfmaq_n_f32(acc[r][t], vcvtq_f32_s32(p), dw * da[t]);
        }
      }
    }
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < NT; ++t) y[t * ys + r] = vaddvq_f32(acc[r][t]);
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

// Q4_K and Q5_K differ only in how a super-block's codes are unpacked:
// unpack_pair gives sub-blocks 2j (c[0], c[1]) and 2j + 1 (c[2], c[3]), 16
// codes per register, which share the 32 bytes qs[32j .. 32j + 31].
// The low 4 bits of sub-blocks 2j and 2j + 1 (Q4_K's codes; Q5_K's before
// their fifth bit): low and high nibbles of the same 32 bytes.
inline void k4_low_bits(const uint8_t* qs, int j, int8x16_t* c) {
  const uint8x16_t q0 = vld1q_u8(qs + 32 * j), q1 = vld1q_u8(qs + 32 * j + 16);
  c[0] = low_nibbles(q0);
  c[1] = low_nibbles(q1);
  c[2] = high_nibbles(q0);
  c[3] = high_nibbles(q1);
}

struct Q4_KCodes {
  using Block = BlockQ4_K;
  static void unpack_pair(const Block& b, int j, int8x16_t* c) { k4_low_bits(b.qs, j, c); }
};

struct Q5_KCodes {
  using Block = BlockQ5_K;
  static void unpack_pair(const Block& b, int j, int8x16_t* c) {
    // The low 4 bits as Q4_K's; the high bit of element 64j + l (sub-block
    // 2j) is bit 2j of qh[l], of 64j + 32 + l (sub-block 2j+1) bit 2j+1;
    // l = 0..31 over two registers.
    const uint8x16_t h[2] = {vld1q_u8(b.qh), vld1q_u8(b.qh + 16)};
    const uint8x16_t bit4 = vdupq_n_u8(0x10);
    k4_low_bits(b.qs, j, c);
    for (int k = 0; k < 4; ++k) {
      const uint8x16_t mask = vdupq_n_u8(static_cast<uint8_t>(1u << (2 * j + k / 2)));
      const uint8x16_t high = vandq_u8(vtstq_u8(h[k % 2], mask), bit4);
      c[k] = vorrq_s8(c[k], vreinterpretq_s8_u8(high));
    }
  }
};

template <class D, class C>
struct K4Kernel {
  static constexpr int kRows = 2;  // 2 rows x 4 registers of codes per sub-block pair
  template <int NT, int R>
  static void run(const uint8_t* w, uint64_t w_row_bytes, const void* act, uint64_t stride,
                  int64_t n, float* y, int64_t ys) {
    using Block = typename C::Block;
    float32x4_t acc[R][NT];  // [row][token]
    float mins_acc[R][NT];   // [row][token] the dmin * min terms, subtracted at the end
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < NT; ++t) acc[r][t] = vdupq_n_f32(0.0f), mins_acc[r][t] = 0.0f;
    for (int64_t i = 0; i < n / kQKK; ++i) {
      const Block* b[R];      // [row] super-block i
      uint8_t sc[R][8];       // [row][sub-block] 6-bit scales
      int16x8_t mins[R];      // [row] 8 6-bit mins
      int32x4_t isum[R][NT];  // [row][token] sum over sub-blocks of scale * code products
      for (int r = 0; r < R; ++r) {
        b[r] = &w_row<Block>(w, w_row_bytes, r)[i];
        uint8_t mn[8];
        for (int s = 0; s < 8; ++s) tensor::k4_scale_min(s, b[r]->scales, &sc[r][s], &mn[s]);
        mins[r] = vreinterpretq_s16_u16(vmovl_u8(vld1_u8(mn)));
        for (int t = 0; t < NT; ++t) isum[r][t] = vdupq_n_s32(0);
      }
      for (int j = 0; j < 4; ++j) {
        int8x16_t c[R][4];  // [row][sub-block 2j: 0-1, 2j + 1: 2-3]
        for (int r = 0; r < R; ++r) C::unpack_pair(*b[r], j, c[r]);
        for (int t = 0; t < NT; ++t) {
          const int8_t* aq = act_row<BlockQ8_K>(act, stride, t)[i].qs + 64 * j;
          const int8x16_t a0 = vld1q_s8(aq), a1 = vld1q_s8(aq + 16), a2 = vld1q_s8(aq + 32),
                          a3 = vld1q_s8(aq + 48);
          for (int r = 0; r < R; ++r) {
            const int32x4_t p0 = D::dot(D::dot(vdupq_n_s32(0), c[r][0], a0), c[r][1], a1);
            const int32x4_t p1 = D::dot(D::dot(vdupq_n_s32(0), c[r][2], a2), c[r][3], a3);
            isum[r][t] =
                vmlaq_n_s32(vmlaq_n_s32(isum[r][t], p0, sc[r][2 * j]), p1, sc[r][2 * j + 1]);
          }
        }
      }
      for (int r = 0; r < R; ++r) {
        const float d = f16(b[r]->d), dmin = f16(b[r]->dmin);
        for (int t = 0; t < NT; ++t) {
          const BlockQ8_K& a = act_row<BlockQ8_K>(act, stride, t)[i];
          acc[r][t] = vfmaq_n_f32(acc[r][t], vcvtq_f32_s32(isum[r][t]), d * a.d);
          mins_acc[r][t] += (dmin * a.d) * static_cast<float>(k4_min_term(a, mins[r]));
        }
      }
    }
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < NT; ++t) y[t * ys + r] = vaddvq_f32(acc[r][t]) - mins_acc[r][t];
  }
};

// The 128 codes of half `half` of a Q6_K super-block, minus 32, in c[8]
// (16 elements each, in order): low 4 bits from ql[64], high 2 from qh[32].
inline void q6_k_codes(const BlockQ6_K& b, int half, int8x16_t* c) {
  const uint8x16_t m4 = vdupq_n_u8(0x0F), m2 = vdupq_n_u8(0x03);
  const int8x16_t bias = vdupq_n_s8(32);
  const uint8_t* ql = b.ql + 64 * half;
  const uint8_t* qh = b.qh + 32 * half;
  const uint8x16_t l0 = vld1q_u8(ql), l1 = vld1q_u8(ql + 16), l2 = vld1q_u8(ql + 32),
                   l3 = vld1q_u8(ql + 48);
  const uint8x16_t h0 = vld1q_u8(qh), h1 = vld1q_u8(qh + 16);
  auto code = [&](uint8x16_t low4, uint8x16_t high2) {
    return vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(low4, vshlq_n_u8(high2, 4))), bias);
  };
  c[0] = code(vandq_u8(l0, m4), vandq_u8(h0, m2));
  c[1] = code(vandq_u8(l1, m4), vandq_u8(h1, m2));
  c[2] = code(vandq_u8(l2, m4), vandq_u8(vshrq_n_u8(h0, 2), m2));
  c[3] = code(vandq_u8(l3, m4), vandq_u8(vshrq_n_u8(h1, 2), m2));
  c[4] = code(vshrq_n_u8(l0, 4), vandq_u8(vshrq_n_u8(h0, 4), m2));
  c[5] = code(vshrq_n_u8(l1, 4), vandq_u8(vshrq_n_u8(h1, 4), m2));
  c[6] = code(vshrq_n_u8(l2, 4), vshrq_n_u8(h0, 6));
  c[7] = code(vshrq_n_u8(l3, 4), vshrq_n_u8(h1, 6));
}

template <class D>
struct Q6_KKernel {
  static constexpr int kRows = 2;  // 2 rows x 8 registers of codes per half
  template <int NT, int R>
  static void run(const uint8_t* w, uint64_t w_row_bytes, const void* act, uint64_t stride,
                  int64_t n, float* y, int64_t ys) {
    float32x4_t acc[R][NT];  // [row][token]
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < NT; ++t) acc[r][t] = vdupq_n_f32(0.0f);
    for (int64_t i = 0; i < n / kQKK; ++i) {
      for (int half = 0; half < 2; ++half) {
        int8x16_t c[R][8];  // [row][chunk of 16 elements]
        for (int r = 0; r < R; ++r) q6_k_codes(w_row<BlockQ6_K>(w, w_row_bytes, r)[i], half, c[r]);
        for (int t = 0; t < NT; ++t) {
          const BlockQ8_K& a = act_row<BlockQ8_K>(act, stride, t)[i];
          const int8_t* aq = a.qs + 128 * half;
          int32x4_t isum[R];  // [row]
          for (int r = 0; r < R; ++r) isum[r] = vdupq_n_s32(0);
          for (int k = 0; k < 8; ++k) {
            const int8x16_t ak = vld1q_s8(aq + 16 * k);
            for (int r = 0; r < R; ++r) {
              const int8_t* sc = w_row<BlockQ6_K>(w, w_row_bytes, r)[i].scales + 8 * half;
              isum[r] = vmlaq_n_s32(isum[r], D::dot(vdupq_n_s32(0), c[r][k], ak), sc[k]);
            }
          }
          for (int r = 0; r < R; ++r) {
            const float d = f16(w_row<BlockQ6_K>(w, w_row_bytes, r)[i].d);
            acc[r][t] = vfmaq_n_f32(acc[r][t], vcvtq_f32_s32(isum[r]), d * a.d);
          }
        }
      }
    }
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < NT; ++t) y[t * ys + r] = vaddvq_f32(acc[r][t]);
  }
};

// ---- table entries ----------------------------------------------------------

// R rows of `w` times nt (1..kDotTile) tokens.
template <class K, int R>
void rows_times_tokens(const uint8_t* w, uint64_t w_row_bytes, const void* act, uint64_t stride,
                       int64_t n, int nt, float* y, int64_t ys) {
  switch (nt) {
    case 1:
      K::template run<1, R>(w, w_row_bytes, act, stride, n, y, ys);
      break;
    case 2:
      K::template run<2, R>(w, w_row_bytes, act, stride, n, y, ys);
      break;
    case 3:
      K::template run<3, R>(w, w_row_bytes, act, stride, n, y, ys);
      break;
    default:
      K::template run<4, R>(w, w_row_bytes, act, stride, n, y, ys);
      break;
  }
}

template <class K>
void tile(const void* w, const void* act, uint64_t stride, int64_t n, int nt, float* y,
          int64_t ys) {
  rows_times_tokens<K, 1>(static_cast<const uint8_t*>(w), 0, act, stride, n, nt, y, ys);
}

template <class K>
float dot(const void* w, const void* act, int64_t n) {
  float y = 0.0f;
  K::template run<1, 1>(static_cast<const uint8_t*>(w), 0, act, 0, n, &y, 1);
  return y;
}

// n_rows rows in groups of K::kRows, the rest one at a time.
template <class K>
void block(const void* w, uint64_t w_row_bytes, int n_rows, const void* act, uint64_t stride,
           int64_t n, int nt, float* y, int64_t ys) {
  const auto* rows = static_cast<const uint8_t*>(w);
  int r = 0;
  for (; r + K::kRows <= n_rows; r += K::kRows) {
    rows_times_tokens<K, K::kRows>(rows + r * w_row_bytes, w_row_bytes, act, stride, n, nt, y + r,
                                   ys);
  }
  for (; r < n_rows; ++r)
    rows_times_tokens<K, 1>(rows + r * w_row_bytes, w_row_bytes, act, stride, n, nt, y + r, ys);
}

// Puts the kernels above into `t` (a copy of the reference table): dot,
// tile and, for the quantized types, dot_block (matmul then runs groups of
// rows, at decode a thread's whole share in one call); the NEON activation
// quantizers (neon_quantize.cpp). Attention and SwiGLU stay the reference
// ones, and there is no GEMM: prefill runs dot_block over tiles of tokens.
template <class D>
void fill(KernelTable& t) {
  using gguf::GgmlType;
  auto set = [&t](GgmlType w, VecDotFn d, VecDotTileFn tl, VecDotBlockFn bl) {
    DotKernel& k = t.by_type[static_cast<uint32_t>(w)];
    k.dot = d;
    k.dot_tile = tl;
    k.dot_block = bl;
    k.gemm = nullptr;
  };
  set(GgmlType::F32, dot<FloatKernel<LoadF32>>, tile<FloatKernel<LoadF32>>, nullptr);
  set(GgmlType::F16, dot<FloatKernel<LoadF16>>, tile<FloatKernel<LoadF16>>, nullptr);
  set(GgmlType::BF16, dot<FloatKernel<LoadBF16>>, tile<FloatKernel<LoadBF16>>, nullptr);
  using Q4_0 = LegacyKernel<D, Q4_0Codes>;
  using Q8_0 = LegacyKernel<D, Q8_0Codes>;
  using Q4_K = K4Kernel<D, Q4_KCodes>;
  using Q5_K = K4Kernel<D, Q5_KCodes>;
  set(GgmlType::Q4_0, dot<Q4_0>, tile<Q4_0>, block<Q4_0>);
  set(GgmlType::Q8_0, dot<Q8_0>, tile<Q8_0>, block<Q8_0>);
  set(GgmlType::Q4_K, dot<Q4_K>, tile<Q4_K>, block<Q4_K>);
  set(GgmlType::Q5_K, dot<Q5_K>, tile<Q5_K>, block<Q5_K>);
  set(GgmlType::Q6_K, dot<Q6_KKernel<D>>, tile<Q6_KKernel<D>>, block<Q6_KKernel<D>>);
  fill_quantizers(t);
}

}  // namespace
}  // namespace frugal::kernels::neon
