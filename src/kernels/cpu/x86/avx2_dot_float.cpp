// AVX2 dots of float weights (F32, F16, BF16) against float32 activations:
// 8 weights are widened to f32 once and multiplied into each token's
// accumulators with FMA. Two accumulators per token hide the FMA latency.
// Shapes: w is one row of n elements; a is [nt, stride bytes] of f32.
// Built only where CMakeLists.txt gives this file -mavx2 -mfma -mf16c (x86-64).
#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)

#include "kernels/cpu/x86/avx2.h"
#include "kernels/cpu/x86/avx2_common.h"

namespace frugal::kernels::avx2 {
namespace {

// Load8(w, i) -> the 8 weights i .. i + 7 as f32; Load1(w, i) -> weight i.
template <int NT, class Load8, class Load1>
void float_tile(const TileArgs& p, Load8 load8, Load1 load1) {
  const float* x[NT];
  for (int t = 0; t < NT; ++t) x[t] = reinterpret_cast<const float*>(p.a + t * p.stride);
  __m256 acc0[NT], acc1[NT];
  for (int t = 0; t < NT; ++t) acc0[t] = acc1[t] = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= p.n; i += 16) {
    const __m256 w0 = load8(p.w, i), w1 = load8(p.w, i + 8);
    for (int t = 0; t < NT; ++t) {
      acc0[t] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x[t] + i), acc0[t]);
      acc1[t] = _mm256_fmadd_ps(w1, _mm256_loadu_ps(x[t] + i + 8), acc1[t]);
    }
  }
  for (; i + 8 <= p.n; i += 8) {
    const __m256 w0 = load8(p.w, i);
    for (int t = 0; t < NT; ++t) acc0[t] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x[t] + i), acc0[t]);
  }
  for (int t = 0; t < NT; ++t) {
    float s = hsum_ps(_mm256_add_ps(acc0[t], acc1[t]));
    for (int64_t j = i; j < p.n; ++j) s += load1(p.w, j) * x[t][j];
    p.y[t * p.ys] = s;
  }
}

inline __m256 load8_f32(const uint8_t* w, int64_t i) {
  return _mm256_loadu_ps(reinterpret_cast<const float*>(w) + i);
}
inline float load1_f32(const uint8_t* w, int64_t i) {
  return reinterpret_cast<const float*>(w)[i];
}
inline __m256 load8_f16(const uint8_t* w, int64_t i) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + 2 * i)));
}
inline float load1_f16(const uint8_t* w, int64_t i) {
  return half_to_float(reinterpret_cast<const uint16_t*>(w)[i]);
}
// bf16 is the top half of an f32.
inline __m256 load8_bf16(const uint8_t* w, int64_t i) {
  const __m256i v =
      _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + 2 * i)));
  return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
}
inline float load1_bf16(const uint8_t* w, int64_t i) {
  const uint32_t u = uint32_t{reinterpret_cast<const uint16_t*>(w)[i]} << 16;
  return _mm_cvtss_f32(_mm_castsi128_ps(_mm_cvtsi32_si128(static_cast<int>(u))));
}

struct F32 {
  template <int NT>
  static void run(const TileArgs& p) {
    float_tile<NT>(p, load8_f32, load1_f32);
  }
};
struct F16 {
  template <int NT>
  static void run(const TileArgs& p) {
    float_tile<NT>(p, load8_f16, load1_f16);
  }
};
struct BF16 {
  template <int NT>
  static void run(const TileArgs& p) {
    float_tile<NT>(p, load8_bf16, load1_bf16);
  }
};

}  // namespace

float dot_f32_f32(const void* w, const void* x, int64_t n) {
  return run_one<F32>(w, x, n);
}
float dot_f16_f32(const void* w, const void* x, int64_t n) {
  return run_one<F16>(w, x, n);
}
float dot_bf16_f32(const void* w, const void* x, int64_t n) {
  return run_one<BF16>(w, x, n);
}

void tile_f32_f32(const void* w, const void* x, uint64_t stride, int64_t n, int nt, float* y,
                  int64_t ys) {
  run_tile<F32>({static_cast<const uint8_t*>(w), static_cast<const uint8_t*>(x), stride, n, y, ys},
                nt);
}
void tile_f16_f32(const void* w, const void* x, uint64_t stride, int64_t n, int nt, float* y,
                  int64_t ys) {
  run_tile<F16>({static_cast<const uint8_t*>(w), static_cast<const uint8_t*>(x), stride, n, y, ys},
                nt);
}
void tile_bf16_f32(const void* w, const void* x, uint64_t stride, int64_t n, int nt, float* y,
                   int64_t ys) {
  run_tile<BF16>({static_cast<const uint8_t*>(w), static_cast<const uint8_t*>(x), stride, n, y, ys},
                 nt);
}

}  // namespace frugal::kernels::avx2

#endif  // __AVX2__ && __FMA__ && __F16C__
