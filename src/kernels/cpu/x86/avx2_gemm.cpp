// AVX2 prefill GEMM for Q4_0 (x Q8_0) and Q4_K (x Q8_K) weights: tokens in
// the SIMD lanes instead of rows.
//
// The dot_block kernels keep one token's 32 activation codes in a register
// and reduce every (row, token, block) product vector horizontally (hadd or
// a lane sum), which costs more instructions than the multiplies: on Zen 3
// the Q4_0 block kernel did about 8 multiply-adds per cycle at pp512. Here a
// panel of 8 tokens is interleaved once per matmul call, 4 codes per token
// per 32-byte chunk ([chunk][8 tokens][4] int8), and a weight row's 4 codes
// for the same chunk are broadcast from memory into all 8 lanes: one maddubs
// then yields each token's two pair sums in its own 32-bit lane, and
// consecutive chunks are summed vertically, so a block ends with its integer
// sum per token in lane t with no horizontal step. The weight codes are
// unpacked to bytes once per block of rows (unpack_rows) and stay in L2
// while every panel of the call passes over them.
//
// The integers are the ones the dot kernels compute (Q4_0: sum u * a - 8 *
// sum a per block; Q4_K: S = sum_g sc_g * P_g and M = sum_g mn_g * B_g per
// super-block, exact) and the float steps per token are the same (acc +=
// float(isum) * (d_w * d_a) by one FMA; Q4_K: acc - acc_min at the end), so
// every result is bit for bit what the table's dot gives (kernels_simd_test
// checks it for every token count and row count).
//
// int16 sums: a chunk's pair sum is at most 2 * 15 * 128 = 3840 in size
// (codes 0..15, activations -128..127), eight chunks (one 32-element group)
// at most 30720 < 32768, so each group is summed in int16 lanes and widened
// once (madd, which also applies Q4_K's 6-bit group scale).
// Built only where CMakeLists.txt gives this file -mavx2 -mfma -mf16c (x86-64).
#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)

#include <cstddef>
#include <cstring>

#include "kernels/cpu/x86/avx2.h"
#include "kernels/cpu/x86/avx2_common.h"
#include "tensor/blocks.h"

namespace frugal::kernels::FRUGAL_X86_NS {
namespace {

using tensor::BlockQ4_0;
using tensor::BlockQ4_K;
using tensor::BlockQ8_0;
using tensor::BlockQ8_K;
using tensor::kQK;
using tensor::kQKK;

constexpr int kLanes = kGemmPanelTokens;  // tokens per panel = int32 lanes of a ymm
static_assert(kLanes == 8);
// Rows per micro-kernel pass, over two panels (16 tokens) at once, so each
// broadcast weight chunk feeds two maddubs: 3 rows x 2 panels of int16 sums
// and of float (Q4_0) or int32 (Q4_K) sums stay in registers. matmul_bench,
// T = 16, one Zen 3 core, GFLOP/s: Q4_K 4 rows x 1 panel 158, 6 x 1 159,
// 2 x 2 167, 3 x 2 178, 4 x 2 141 (spills); Q4_0 6 x 1 164, 3 x 2 167.
constexpr int kQ4_0Rows = 3;
constexpr int kQ4_KRows = 3;

// Chunk sums of one block (Q4_0) or group (Q4_K) per token. AVX2 adds
// maddubs' int16 pair sums (exact: at most 30720 over a block, above) and
// widens them once; a VNNI build (avx2.h) accumulates int32 lanes directly
// with vpdpbusd, which needs neither the int16 adds nor the widening. The
// integers are the same either way.
inline __m256i chunk_acc(__m256i s, __m256i w, __m256i a) {
#if defined(FRUGAL_X86_VNNI)
  return dpbusd(s, w, a);
#else
  return _mm256_add_epi16(s, _mm256_maddubs_epi16(w, a));
#endif
}

// chunk_acc's sums as [8 tokens] int32.
inline __m256i chunk_sums_i32(__m256i s) {
#if defined(FRUGAL_X86_VNNI)
  return s;
#else
  return sum_pairs_i16(s);
#endif
}

// 4 consecutive codes (bytes) of a weight row, in all 8 lanes.
inline __m256i bcast4(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}

// ---------------------------------------------------------------- panels

// One Q8_0 block of a panel: [8 chunks][8 tokens][4] codes, then per token
// the scale as float and 8 * the sum of its 32 codes (for Q4_0's -8 offset).
struct PanelQ8_0 {
  int8_t qs[kQK / 4][kLanes][4];
  float d[kLanes];
  int32_t sum8[kLanes];
};
static_assert(sizeof(PanelQ8_0) == 320);

// One Q8_K super-block of a panel: [64 chunks][8 tokens][4] codes, the
// scales, and per token the group sums B_g (sum of group g's 32 codes) in
// pairs: bpairs[k][t] = B_2k | B_2k+1 << 16 as two int16 (|B_g| <= 4096).
struct PanelQ8_K {
  int8_t qs[kQKK / 4][kLanes][4];
  float d[kLanes];
  int32_t bpairs[4][kLanes];
};
static_assert(sizeof(PanelQ8_K) == 2208);

// Copies token t's codes into the panel's chunk layout: chunk c of src (4
// bytes) goes to dst[c][t].
inline void scatter_codes(const int8_t* src, int n_codes, int8_t (*dst)[kLanes][4], int t) {
  for (int c = 0; c < n_codes / 4; ++c) std::memcpy(dst[c][t], src + 4 * c, 4);
}

// y[t * ys + r] = acc[r][t / 8] lane t % 8, for the nt tokens of P panels.
template <int R, int P>
void store_tokens(const __m256 (&acc)[R][P], int nt, float* y, int64_t ys) {
  for (int q = 0; q < P; ++q) {
    for (int r = 0; r < R; ++r) {
      alignas(32) float out[kLanes];
      _mm256_store_ps(out, acc[r][q]);
      for (int t = q * kLanes; t < nt && t < (q + 1) * kLanes; ++t) {
        y[t * ys + r] = out[t - q * kLanes];
      }
    }
  }
}

// ---------------------------------------------------------------- Q4_0

// An unpacked Q4_0 row: [nb][32] codes 0..15 in element order, then [nb]
// float scales.
uint64_t q4_0_unpacked_bytes(int64_t n) {
  return static_cast<uint64_t>(n / kQK) * (kQK + sizeof(float));
}

void q4_0_unpack(const void* w, uint64_t w_row_bytes, int nr, int64_t n, void* dst) {
  const int64_t nb = n / kQK;
  for (int r = 0; r < nr; ++r) {
    const auto* x =
        reinterpret_cast<const BlockQ4_0*>(static_cast<const uint8_t*>(w) + r * w_row_bytes);
    uint8_t* codes = static_cast<uint8_t*>(dst) + r * q4_0_unpacked_bytes(n);  // [nb][32]
    float* d = reinterpret_cast<float*>(codes + nb * kQK);                     // [nb]
    for (int64_t i = 0; i < nb; ++i) {
      const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x[i].qs));
      const __m256i v =
          _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(b, 4), b), _mm256_set1_epi8(0x0F));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(codes + i * kQK), v);
      d[i] = half_to_float(x[i].d);
    }
  }
}

uint64_t q8_0_panel_bytes(int64_t n) {
  return static_cast<uint64_t>(n / kQK) * sizeof(PanelQ8_0);
}

void q8_0_pack(const void* act, uint64_t act_row_bytes, int64_t n, int nt, void* panel) {
  const int64_t nb = n / kQK;
  auto* p = static_cast<PanelQ8_0*>(panel);
  std::memset(panel, 0, q8_0_panel_bytes(n));  // tokens nt..7: zero codes and scales
  for (int t = 0; t < nt; ++t) {
    const auto* y =
        reinterpret_cast<const BlockQ8_0*>(static_cast<const uint8_t*>(act) + t * act_row_bytes);
    for (int64_t i = 0; i < nb; ++i) {
      scatter_codes(y[i].qs, kQK, p[i].qs, t);
      p[i].d[t] = half_to_float(y[i].d);
      p[i].sum8[t] = 8 * hsum_i32(dot_u8(_mm256_set1_epi8(1), load256(y[i].qs)));
    }
  }
}

// R rows (unpacked, u_stride bytes apart) x one panel.
// R rows (unpacked, u_stride bytes apart) x P adjacent panels (P = 1 or 2;
// panel 1 follows panel 0 after nb blocks): with two panels each broadcast
// weight chunk feeds two maddubs.
template <int R, int P>
void q4_0_micro(const uint8_t* u, uint64_t u_stride, const PanelQ8_0* p, int64_t nb, int nt,
                float* y, int64_t ys) {
  __m256 acc[R][P];  // [R rows][P panels][8 tokens]
  for (int r = 0; r < R; ++r)
    for (int q = 0; q < P; ++q) acc[r][q] = _mm256_setzero_ps();
  const float* d[R];  // [R][nb] row scales
  for (int r = 0; r < R; ++r) d[r] = reinterpret_cast<const float*>(u + r * u_stride + nb * kQK);
  for (int64_t i = 0; i < nb; ++i) {
    const PanelQ8_0* pq[P];
    for (int q = 0; q < P; ++q) pq[q] = p + q * nb + i;
    __m256i s16[R][P];  // [R][P] chunk_acc sums ([8 tokens][2] int16, or [8] int32)
    for (int r = 0; r < R; ++r)
      for (int q = 0; q < P; ++q) s16[r][q] = _mm256_setzero_si256();
#pragma GCC unroll 2
    for (int c = 0; c < kQK / 4; ++c) {
      __m256i a[P];  // [P][8 tokens][4]
      for (int q = 0; q < P; ++q) a[q] = load256(pq[q]->qs[c]);
      for (int r = 0; r < R; ++r) {
        const __m256i w = bcast4(u + r * u_stride + i * kQK + 4 * c);
        for (int q = 0; q < P; ++q) s16[r][q] = chunk_acc(s16[r][q], w, a[q]);
      }
    }
    for (int q = 0; q < P; ++q) {
      const __m256i sum8 = load256(pq[q]->sum8);
      const __m256 da = _mm256_loadu_ps(pq[q]->d);
      for (int r = 0; r < R; ++r) {
        const __m256i isum = _mm256_sub_epi32(chunk_sums_i32(s16[r][q]), sum8);
        const __m256 scale = _mm256_mul_ps(_mm256_set1_ps(d[r][i]), da);
        acc[r][q] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), scale, acc[r][q]);
      }
    }
  }
  store_tokens<R, P>(acc, nt, y, ys);
}

// ---------------------------------------------------------------- Q4_K

// An unpacked Q4_K super-block: codes 0..15 in element order, the 8 scales
// and 8 mins, d and dmin as floats.
struct UnpackedQ4_K {
  uint8_t codes[kQKK];
  uint8_t sc[8];
  uint8_t mn[8];
  float d;
  float dmin;
};
static_assert(sizeof(UnpackedQ4_K) == 280);

uint64_t q4_k_unpacked_bytes(int64_t n) {
  return static_cast<uint64_t>(n / kQKK) * sizeof(UnpackedQ4_K);
}

void q4_k_unpack(const void* w, uint64_t w_row_bytes, int nr, int64_t n, void* dst) {
  const int64_t nb = n / kQKK;
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  for (int r = 0; r < nr; ++r) {
    const auto* x =
        reinterpret_cast<const BlockQ4_K*>(static_cast<const uint8_t*>(w) + r * w_row_bytes);
    auto* u =
        reinterpret_cast<UnpackedQ4_K*>(static_cast<uint8_t*>(dst) + r * q4_k_unpacked_bytes(n));
    for (int64_t i = 0; i < nb; ++i) {
      for (int k = 0; k < 4; ++k) {  // groups 2k (low nibbles), 2k + 1 (high)
        const __m256i raw = load256(x[i].qs + 32 * k);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(u[i].codes + 64 * k),
                            _mm256_and_si256(raw, low4));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(u[i].codes + 64 * k + 32),
                            _mm256_and_si256(_mm256_srli_epi16(raw, 4), low4));
      }
      _mm_storeu_si128(reinterpret_cast<__m128i*>(u[i].sc), k4_scales_mins(&x[i]));
      u[i].d = half_to_float(x[i].d);
      u[i].dmin = half_to_float(x[i].dmin);
    }
  }
}

uint64_t q8_k_panel_bytes(int64_t n) {
  return static_cast<uint64_t>(n / kQKK) * sizeof(PanelQ8_K);
}

void q8_k_pack(const void* act, uint64_t act_row_bytes, int64_t n, int nt, void* panel) {
  const int64_t nb = n / kQKK;
  auto* p = static_cast<PanelQ8_K*>(panel);
  std::memset(panel, 0, q8_k_panel_bytes(n));  // tokens nt..7: zero codes, scales, sums
  for (int t = 0; t < nt; ++t) {
    const auto* y =
        reinterpret_cast<const BlockQ8_K*>(static_cast<const uint8_t*>(act) + t * act_row_bytes);
    for (int64_t i = 0; i < nb; ++i) {
      scatter_codes(y[i].qs, kQKK, p[i].qs, t);
      p[i].d[t] = y[i].d;
      for (int k = 0; k < 4; ++k) {
        const int b0 = y[i].bsums[4 * k] + y[i].bsums[4 * k + 1];
        const int b1 = y[i].bsums[4 * k + 2] + y[i].bsums[4 * k + 3];
        p[i].bpairs[k][t] = static_cast<int32_t>(
            static_cast<uint16_t>(b0) | (static_cast<uint32_t>(static_cast<uint16_t>(b1)) << 16));
      }
    }
  }
}

// R rows x P adjacent panels (P = 1 or 2; panel 1 follows panel 0 after nb
// super-blocks): with two panels each broadcast weight chunk feeds two
// maddubs.
template <int R, int P>
void q4_k_micro(const uint8_t* w, uint64_t u_stride, const PanelQ8_K* p, int64_t nb, int nt,
                float* y, int64_t ys) {
  __m256 acc[R][P], acc_min[R][P];  // [R rows][P panels][8 tokens]
  for (int r = 0; r < R; ++r)
    for (int q = 0; q < P; ++q) acc[r][q] = acc_min[r][q] = _mm256_setzero_ps();
  for (int64_t i = 0; i < nb; ++i) {
    const UnpackedQ4_K* u[R];
    for (int r = 0; r < R; ++r) u[r] = reinterpret_cast<const UnpackedQ4_K*>(w + r * u_stride) + i;
    const PanelQ8_K* pq[P];
    for (int q = 0; q < P; ++q) pq[q] = p + q * nb + i;
    __m256i s32[R][P];  // [R][P][8 tokens] S
    for (int r = 0; r < R; ++r)
      for (int q = 0; q < P; ++q) s32[r][q] = _mm256_setzero_si256();
    for (int g = 0; g < 8; ++g) {
      __m256i s16[R][P];  // [R][P] chunk_acc sums of group g
      for (int r = 0; r < R; ++r)
        for (int q = 0; q < P; ++q) s16[r][q] = _mm256_setzero_si256();
#pragma GCC unroll 2
      for (int c = 0; c < 8; ++c) {
        __m256i a[P];
        for (int q = 0; q < P; ++q) a[q] = load256(pq[q]->qs[8 * g + c]);
        for (int r = 0; r < R; ++r) {
          const __m256i wc = bcast4(u[r]->codes + 32 * g + 4 * c);
          for (int q = 0; q < P; ++q) s16[r][q] = chunk_acc(s16[r][q], wc, a[q]);
        }
      }
      for (int r = 0; r < R; ++r) {
#if defined(FRUGAL_X86_VNNI)
        // [8 tokens] int32 P_g times the group scale (|P_g * sc| < 2^22).
        const __m256i sc = _mm256_set1_epi32(u[r]->sc[g]);
        for (int q = 0; q < P; ++q)
          s32[r][q] = _mm256_add_epi32(s32[r][q], _mm256_mullo_epi32(s16[r][q], sc));
#else
        const __m256i sc = _mm256_set1_epi16(u[r]->sc[g]);
        for (int q = 0; q < P; ++q)
          s32[r][q] = _mm256_add_epi32(s32[r][q], _mm256_madd_epi16(s16[r][q], sc));
#endif
      }
    }
    for (int q = 0; q < P; ++q) {
      const __m256 da = _mm256_loadu_ps(pq[q]->d);
      for (int r = 0; r < R; ++r) {
        __m256i m = _mm256_setzero_si256();  // [8 tokens] M
        for (int k = 0; k < 4; ++k) {
          const int32_t mn_pair = u[r]->mn[2 * k] | (u[r]->mn[2 * k + 1] << 16);
          m = _mm256_add_epi32(
              m, _mm256_madd_epi16(load256(pq[q]->bpairs[k]), _mm256_set1_epi32(mn_pair)));
        }
        acc[r][q] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s32[r][q]),
                                    _mm256_mul_ps(_mm256_set1_ps(u[r]->d), da), acc[r][q]);
        acc_min[r][q] = _mm256_fmadd_ps(
            _mm256_cvtepi32_ps(m), _mm256_mul_ps(_mm256_set1_ps(u[r]->dmin), da), acc_min[r][q]);
      }
    }
  }
  for (int r = 0; r < R; ++r)
    for (int q = 0; q < P; ++q) acc[r][q] = _mm256_sub_ps(acc[r][q], acc_min[r][q]);
  store_tokens<R, P>(acc, nt, y, ys);
}

// nr rows in passes of kRows, then the remainder (kRows <= 6).
template <class Panel, template <int> class Micro, int kRows>
void run_rows_by_micro(const void* unpacked, uint64_t u_stride, int nr, const void* panel,
                       int64_t nb, int nt, float* y, int64_t ys) {
  const auto* u = static_cast<const uint8_t*>(unpacked);
  const auto* p = static_cast<const Panel*>(panel);
  int r = 0;
  for (; r + kRows <= nr; r += kRows)
    Micro<kRows>::run(u + r * u_stride, u_stride, p, nb, nt, y + r, ys);
  const uint8_t* ur = u + r * u_stride;
  switch (nr - r) {
    case 5:
      Micro<5>::run(ur, u_stride, p, nb, nt, y + r, ys);
      break;
    case 4:
      Micro<4>::run(ur, u_stride, p, nb, nt, y + r, ys);
      break;
    case 3:
      Micro<3>::run(ur, u_stride, p, nb, nt, y + r, ys);
      break;
    case 2:
      Micro<2>::run(ur, u_stride, p, nb, nt, y + r, ys);
      break;
    case 1:
      Micro<1>::run(ur, u_stride, p, nb, nt, y + r, ys);
      break;
    default:
      break;
  }
}

template <int R>
struct Q4_0Micro {
  static void run(const uint8_t* u, uint64_t s, const PanelQ8_0* p, int64_t nb, int nt, float* y,
                  int64_t ys) {
    if (nt > kLanes) {
      q4_0_micro<R, 2>(u, s, p, nb, nt, y, ys);
    } else {
      q4_0_micro<R, 1>(u, s, p, nb, nt, y, ys);
    }
  }
};
template <int R>
struct Q4_KMicro {
  static void run(const uint8_t* u, uint64_t s, const PanelQ8_K* p, int64_t nb, int nt, float* y,
                  int64_t ys) {
    if (nt > kLanes) {
      q4_k_micro<R, 2>(u, s, p, nb, nt, y, ys);
    } else {
      q4_k_micro<R, 1>(u, s, p, nb, nt, y, ys);
    }
  }
};

void q4_0_run(const void* unpacked, int nr, const void* panel, int64_t n, int nt, float* y,
              int64_t ys) {
  run_rows_by_micro<PanelQ8_0, Q4_0Micro, kQ4_0Rows>(unpacked, q4_0_unpacked_bytes(n), nr, panel,
                                                     n / kQK, nt, y, ys);
}

void q4_k_run(const void* unpacked, int nr, const void* panel, int64_t n, int nt, float* y,
              int64_t ys) {
  run_rows_by_micro<PanelQ8_K, Q4_KMicro, kQ4_KRows>(unpacked, q4_k_unpacked_bytes(n), nr, panel,
                                                     n / kQKK, nt, y, ys);
}

}  // namespace

const GemmKernel gemm_q4_0_q8_0 = {q8_0_panel_bytes, q8_0_pack, q4_0_unpacked_bytes, q4_0_unpack,
                                   q4_0_run};
const GemmKernel gemm_q4_k_q8_k = {q8_k_panel_bytes, q8_k_pack, q4_k_unpacked_bytes, q4_k_unpack,
                                   q4_k_run};

}  // namespace frugal::kernels::FRUGAL_X86_NS

#endif  // __AVX2__ && __FMA__ && __F16C__
