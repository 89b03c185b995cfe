// AVX2 dots of the 32-element block types (Q4_0, Q5_0, Q8_0 against Q8_0;
// Q4_1 against Q8_1). Per block: the weight codes are decoded once into 32
// int8 lanes, multiplied with each token's activation codes and summed exactly
// in int32 (same integer as cpu/ref), then scaled by d_w * d_a in float.
// Shapes: w is one row of n / 32 blocks; a is [nt, stride bytes].
// Built only where CMakeLists.txt gives this file -mavx2 -mfma -mf16c (x86-64).
#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)

#include <cstring>

#include "kernels/cpu/x86/avx2.h"
#include "kernels/cpu/x86/avx2_common.h"
#include "tensor/blocks.h"

namespace frugal::kernels::avx2 {
namespace {

using tensor::BlockQ4_0;
using tensor::BlockQ4_1;
using tensor::BlockQ5_0;
using tensor::BlockQ8_0;
using tensor::BlockQ8_1;
using tensor::kQK;

// 16 bytes of nibbles -> 32 bytes: element j (low nibble of byte j) in byte j,
// element j + 16 (high nibble) in byte j + 16.
inline __m256i unpack_nibbles(const uint8_t* qs) {
  const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m256i v = _mm256_set_m128i(_mm_srli_epi16(b, 4), b);
  return _mm256_and_si256(v, _mm256_set1_epi8(0x0F));
}

// Bit j of the 32 bits at p -> byte j is 0x10 when set, 0 otherwise.
inline __m256i fifth_bits(const uint8_t* p) {
  uint32_t bits;
  std::memcpy(&bits, p, 4);
  // Byte j takes byte j / 8 of `bits` (each 128-bit lane holds all 4 bytes).
  const __m256i spread =
      _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(bits)),
                          _mm256_setr_epi64x(0x0000000000000000, 0x0101010101010101,
                                             0x0202020202020202, 0x0303030303030303));
  const __m256i bit = _mm256_set1_epi64x(static_cast<int64_t>(0x8040201008040201ull));
  const __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit);
  return _mm256_and_si256(set, _mm256_set1_epi8(0x10));
}

// Shared loop for the Q8_0 partners; Decode gives the signed codes and d_w.
template <int NT, class Block, class Decode>
void q8_0_partner(const TileArgs& p, Decode decode) {
  const auto* x = reinterpret_cast<const Block*>(p.w);
  const int64_t nb = p.n / kQK;
  __m256 acc[NT];
  for (int t = 0; t < NT; ++t) acc[t] = _mm256_setzero_ps();
  for (int64_t i = 0; i < nb; ++i) {
    const __m256i q = decode(x[i]);  // [32] int8
    const float dw = half_to_float(x[i].d);
    for (int t = 0; t < NT; ++t) {
      const auto* y = reinterpret_cast<const BlockQ8_0*>(p.a + t * p.stride) + i;
      const __m256i s = dot_i8(q, load256(y->qs));
      acc[t] =
          _mm256_fmadd_ps(_mm256_set1_ps(dw * half_to_float(y->d)), _mm256_cvtepi32_ps(s), acc[t]);
    }
  }
  for (int t = 0; t < NT; ++t) p.y[t * p.ys] = hsum_ps(acc[t]);
}

struct Q4_0 {
  template <int NT>
  static void run(const TileArgs& p) {
    q8_0_partner<NT, BlockQ4_0>(p, [](const BlockQ4_0& b) {
      return _mm256_sub_epi8(unpack_nibbles(b.qs), _mm256_set1_epi8(8));
    });
  }
};

struct Q5_0 {
  template <int NT>
  static void run(const TileArgs& p) {
    q8_0_partner<NT, BlockQ5_0>(p, [](const BlockQ5_0& b) {
      const __m256i codes = _mm256_or_si256(unpack_nibbles(b.qs), fifth_bits(b.qh));
      return _mm256_sub_epi8(codes, _mm256_set1_epi8(16));
    });
  }
};

struct Q8_0 {
  template <int NT>
  static void run(const TileArgs& p) {
    q8_0_partner<NT, BlockQ8_0>(p, [](const BlockQ8_0& b) { return load256(b.qs); });
  }
};

// sum (d_w q_w + m)(d_a q_a) = d_w d_a sum(q_w q_a) + m * s_a (s_a from Q8_1).
struct Q4_1 {
  template <int NT>
  static void run(const TileArgs& p) {
    const auto* x = reinterpret_cast<const BlockQ4_1*>(p.w);
    const int64_t nb = p.n / kQK;
    __m256 acc[NT];
    float mins[NT];
    for (int t = 0; t < NT; ++t) {
      acc[t] = _mm256_setzero_ps();
      mins[t] = 0;
    }
    for (int64_t i = 0; i < nb; ++i) {
      const __m256i q = unpack_nibbles(x[i].qs);  // [32] 0..15
      const float dw = half_to_float(x[i].d);
      const float m = half_to_float(x[i].m);
      for (int t = 0; t < NT; ++t) {
        const auto* y = reinterpret_cast<const BlockQ8_1*>(p.a + t * p.stride) + i;
        const __m256i s = dot_u8(q, load256(y->qs));
        acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(dw * half_to_float(y->d)), _mm256_cvtepi32_ps(s),
                                 acc[t]);
        mins[t] += m * half_to_float(y->s);
      }
    }
    for (int t = 0; t < NT; ++t) p.y[t * p.ys] = hsum_ps(acc[t]) + mins[t];
  }
};

}  // namespace

float dot_q4_0_q8_0(const void* w, const void* a, int64_t n) {
  return run_one<Q4_0>(w, a, n);
}
float dot_q5_0_q8_0(const void* w, const void* a, int64_t n) {
  return run_one<Q5_0>(w, a, n);
}
float dot_q8_0_q8_0(const void* w, const void* a, int64_t n) {
  return run_one<Q8_0>(w, a, n);
}
float dot_q4_1_q8_1(const void* w, const void* a, int64_t n) {
  return run_one<Q4_1>(w, a, n);
}

void tile_q4_0_q8_0(const void* w, const void* a, uint64_t stride, int64_t n, int nt, float* y,
                    int64_t ys) {
  run_tile<Q4_0>({static_cast<const uint8_t*>(w), static_cast<const uint8_t*>(a), stride, n, y, ys},
                 nt);
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

}  // namespace frugal::kernels::avx2

#endif  // __AVX2__ && __FMA__ && __F16C__
