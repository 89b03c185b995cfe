// AVX2 dots of the 32-element block types (Q5_0, Q8_0 against Q8_0;
// Q4_1 against Q8_1; Q4_0 has its own file, avx2_dot_q4_0.cpp). Per block:
// the weight codes are decoded once into 32 int8 lanes, multiplied with each token's activation
// codes and summed exactly in int32 (same integer as cpu/ref), then scaled by d_w * d_a in float.
// Shapes: w is one row of n / 32 blocks; a is [nt, stride bytes].
// Built only where CMakeLists.txt gives this file -mavx2 -mfma -mf16c (x86-64).
#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)

#include <cstring>

#include "kernels/cpu/x86/avx2.h"
#include "kernels/cpu/x86/avx2_common.h"
#include "tensor/blocks.h"

namespace frugal::kernels::FRUGAL_X86_NS {
namespace {

using tensor::BlockQ4_1;
using tensor::BlockQ5_0;
using tensor::BlockQ8_0;
using tensor::BlockQ8_1;
using tensor::kQK;

// Shared loop for the Q8_0 partners, R weight rows x NT tokens per pass.
// Decode gives the block's codes: signed (kBias = 0) or unsigned u standing
// for u - kBias (kBias = 8 or 16). maddubs wants one unsigned operand, so
// there are two exact ways to get the int32 lanes of sum (u - kBias) * a:
// - sign trick: c = u - kBias, maddubs(|c|, sign(a, c)), madd(1);
// - unsigned: maddubs(u, a), madd(1), minus kBias * (the lanes' sums of a).
// Both give the same integers, so every row's result has the same bits for
// any R, NT. The unsigned form saves two instructions per row but costs a
// maddubs + madd per activation block; on CPUs with one integer multiply
// pipe (AMD Zen 1) that only pays at NT = 1, where the R = 4 rows share it.
// Decode (NT = 1) is what this loop is tuned for: R = 4 independent FMA
// chains (one row alone waits for the previous block's FMA), and a software
// prefetch of the next R rows, which lie right after these R rows in memory:
// four rows read side by side are four short streams the hardware prefetcher
// would only pick up late.
template <int R, int NT, int kBias, class Block, class Decode>
void q8_0_partner(const TileArgs& p, Decode decode) {
  static_assert(kBias == 0 || kBias == 8 || kBias == 16);
  constexpr bool kUnsigned = kBias != 0 && NT == 1;
  constexpr int kBiasShift = kBias == 16 ? 4 : 3;
  const int64_t nb = p.n / kQK;
  __m256 acc[R][NT];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < NT; ++t) acc[r][t] = _mm256_setzero_ps();
  for (int64_t i = 0; i < nb; ++i) {
    if constexpr (NT == 1) {
      // Row group r0 + R starts R * row_bytes after r0; block i of this
      // group is i / nb of the way through it, so walk the next group at the
      // same pace: R * sizeof(Block) bytes per block.
      const char* next =
          reinterpret_cast<const char*>(p.w + R * p.w_stride + i * R * sizeof(Block));
      for (size_t off = 0; off < R * sizeof(Block); off += 64) prefetch_l2(next + off);
    }
    __m256i ya[NT];  // [NT][32] int8 activation codes
    __m256i yb[NT];  // [NT][8] int32: kBias * sums of 4 codes (unsigned form)
    __m256 da[NT];   // [NT][8] the activation block's scale, broadcast
    for (int t = 0; t < NT; ++t) {
      const auto* y = reinterpret_cast<const BlockQ8_0*>(p.a + t * p.stride) + i;
      ya[t] = load256(y->qs);
      da[t] = _mm256_set1_ps(half_to_float(y->d));
      if constexpr (kUnsigned) {
        yb[t] = _mm256_slli_epi32(dot_u8(_mm256_set1_epi8(1), ya[t]), kBiasShift);
      }
    }
    for (int r = 0; r < R; ++r) {
      const Block& b = reinterpret_cast<const Block*>(p.w + r * p.w_stride)[i];
      __m256i q = decode(b);  // [32] codes
      if constexpr (kBias != 0 && !kUnsigned) q = _mm256_sub_epi8(q, _mm256_set1_epi8(kBias));
      const __m256 dw = _mm256_set1_ps(half_to_float(b.d));
      for (int t = 0; t < NT; ++t) {
        __m256i s;  // [8] int32 partial sums of 4 products
        if constexpr (kUnsigned) {
          s = _mm256_sub_epi32(dot_u8(q, ya[t]), yb[t]);
        } else {
          s = dot_i8(q, ya[t]);
        }
        // dw * da as the scalar product would be: same bits.
        acc[r][t] = _mm256_fmadd_ps(_mm256_mul_ps(dw, da[t]), _mm256_cvtepi32_ps(s), acc[r][t]);
      }
    }
  }
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < NT; ++t) p.y[t * p.ys + r] = hsum_ps(acc[r][t]);
}

struct Q5_0 {
  template <int R, int NT>
  static void block(const TileArgs& p) {
    q8_0_partner<R, NT, 16, BlockQ5_0>(p, [](const BlockQ5_0& b) {
      return _mm256_or_si256(unpack_nibbles(b.qs), fifth_bits(b.qh));
    });
  }
  template <int NT>
  static void run(const TileArgs& p) {
    block<1, NT>(p);
  }
};

struct Q8_0 {
  template <int R, int NT>
  static void block(const TileArgs& p) {
    q8_0_partner<R, NT, 0, BlockQ8_0>(p, [](const BlockQ8_0& b) { return load256(b.qs); });
  }
  template <int NT>
  static void run(const TileArgs& p) {
    block<1, NT>(p);
  }
};

// sum (d_w q_w + m)(d_a q_a) = d_w d_a sum(q_w q_a) + m * s_a (s_a from Q8_1).
struct Q4_1 {
  template <int R, int NT>
  static void block(const TileArgs& p) {
    const int64_t nb = p.n / kQK;
    __m256 acc[R][NT];
    float mins[R][NT];
    for (int r = 0; r < R; ++r) {
      for (int t = 0; t < NT; ++t) {
        acc[r][t] = _mm256_setzero_ps();
        mins[r][t] = 0;
      }
    }
    for (int64_t i = 0; i < nb; ++i) {
      for (int r = 0; r < R; ++r) {
        const BlockQ4_1& b = reinterpret_cast<const BlockQ4_1*>(p.w + r * p.w_stride)[i];
        const __m256i q = unpack_nibbles(b.qs);  // [32] 0..15
        const float dw = half_to_float(b.d);
        const float m = half_to_float(b.m);
        for (int t = 0; t < NT; ++t) {
          const auto* y = reinterpret_cast<const BlockQ8_1*>(p.a + t * p.stride) + i;
          const __m256i s = dot_u8(q, load256(y->qs));
          acc[r][t] = _mm256_fmadd_ps(_mm256_set1_ps(dw * half_to_float(y->d)),
                                      _mm256_cvtepi32_ps(s), acc[r][t]);
          mins[r][t] += m * half_to_float(y->s);
        }
      }
    }
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < NT; ++t) p.y[t * p.ys + r] = hsum_ps(acc[r][t]) + mins[r][t];
  }
  template <int NT>
  static void run(const TileArgs& p) {
    block<1, NT>(p);
  }
};

}  // namespace

float dot_q5_0_q8_0(const void* w, const void* a, int64_t n) {
  return run_one<Q5_0>(w, a, n);
}
float dot_q8_0_q8_0(const void* w, const void* a, int64_t n) {
  return run_one<Q8_0>(w, a, n);
}
float dot_q4_1_q8_1(const void* w, const void* a, int64_t n) {
  return run_one<Q4_1>(w, a, n);
}

void tile_q5_0_q8_0(const void* w, const void* a, uint64_t stride, int64_t n, int nt, float* y,
                    int64_t ys) {
  run_tile<Q5_0>({static_cast<const uint8_t*>(w), static_cast<const uint8_t*>(a), stride, n, y, ys},
                 nt);
}
void tile_q8_0_q8_0(const void* w, const void* a, uint64_t stride, int64_t n, int nt, float* y,
                    int64_t ys) {
  run_tile<Q8_0>({static_cast<const uint8_t*>(w), static_cast<const uint8_t*>(a), stride, n, y, ys},
                 nt);
}
void tile_q4_1_q8_1(const void* w, const void* a, uint64_t stride, int64_t n, int nt, float* y,
                    int64_t ys) {
  run_tile<Q4_1>({static_cast<const uint8_t*>(w), static_cast<const uint8_t*>(a), stride, n, y, ys},
                 nt);
}

#define FRUGAL_AVX2_BLOCK(name, Kernel)                                                           \
  void name(const void* w, uint64_t w_stride, int nr, const void* a, uint64_t stride, int64_t n,  \
            int nt, float* y, int64_t ys) {                                                       \
    run_block<Kernel>({static_cast<const uint8_t*>(w), static_cast<const uint8_t*>(a), stride, n, \
                       y, ys, w_stride},                                                          \
                      nr, nt);                                                                    \
  }
FRUGAL_AVX2_BLOCK(block_q5_0_q8_0, Q5_0)
FRUGAL_AVX2_BLOCK(block_q8_0_q8_0, Q8_0)
FRUGAL_AVX2_BLOCK(block_q4_1_q8_1, Q4_1)
#undef FRUGAL_AVX2_BLOCK

}  // namespace frugal::kernels::FRUGAL_X86_NS

#endif  // __AVX2__ && __FMA__ && __F16C__
