// AVX2 prefill GEMM for Q8_0 (and Q5_0) weights x Q8_0 activations, in the float order
// of dot_q8_0_q8_0 (and of llama.cpp's Q8_0 vec_dot and tinyBLAS): per
// (row, token) 8 float lanes, lane l adding (d_w * d_a) * float(s_l) for
// every block in order, s_l the exact int32 sum of the block's products
// 4l..4l+3, and one horizontal sum at the end. Q4_0 and Q4_K (avx2_gemm.cpp)
// put tokens in the lanes because llama.cpp's order for them is a whole
// block's integer sum; Q8_0's order ties the lanes to positions in the
// block, so this kernel keeps them there and removes the per-block work the
// dot_block tiles redo for every 4 tokens:
// - weight rows are unpacked once per block of rows: |q| (maddubs's unsigned
//   operand), q (whose signs vpsignb moves onto the activations) and the
//   scale as a float;
// - activations are packed once per call into panels of 8 tokens per block,
//   codes then scales as floats;
// - one row x 8 tokens (8 accumulators) per pass, over chunks of 64 blocks
//   so a panel's chunk stays in L1 while the rows pass over it.
// Per (row, token, block) that leaves a load, vpsignb, vpmaddubsw,
// vpmaddwd, vcvtdq2ps, an in-lane shuffle of the scale and the FMA. The
// float steps are the dot's, so every result has its bits
// (kernels_simd_test compares the GEMM with the single-token dot). On one
// Zen 3 core (matmul_bench at T = 128) 82 GFLOP/s against 61 for the
// dot_block tiles; the bound is issue, not memory: a broadcast load or an
// extra multiply per (row, token, block) costs 3-10 %.
// Q5_0's dot (avx2_dot_legacy.cpp) has the same lanes and float steps, its
// codes being u - 16 in place of q, so Q5_0 rows unpack into the same form
// and run the same loop (gemm_q5_0_q8_0): each result has dot_q5_0_q8_0's
// bits. Q5_0 is most of the weights of Qwen's own "Q4_K_M" files for the
// small models (rows of 896 are no multiple of 256: qwen2.5-coder-0.5b holds
// 61.6 % Q5_0), whose prefill ran Q5_0 through the dot_block tiles.
// Built only where CMakeLists.txt gives this file -mavx2 -mfma -mf16c (x86-64).
#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)

#include <cstddef>
#include <cstring>

#include "kernels/cpu/x86/avx2.h"
#include "kernels/cpu/x86/avx2_common.h"
#include "tensor/blocks.h"

namespace frugal::kernels::FRUGAL_X86_NS {
namespace {

using tensor::BlockQ5_0;
using tensor::BlockQ8_0;
using tensor::kQK;

constexpr int kLanes = kGemmPanelTokens;  // tokens per panel
static_assert(kLanes == 8);

// One Q8_0 block of a panel: each token's 32 codes (one ymm), then the 8
// tokens' scales as floats.
struct alignas(32) PanelBlock {
  int8_t qs[kLanes][kQK];
  float d[kLanes];
};
static_assert(sizeof(PanelBlock) == 288);

// One unpacked weight block: |q| and q. The row's [nb] float scales follow
// its [nb] blocks.
struct RowBlock {
  uint8_t abs_q[kQK];
  int8_t q[kQK];
};
static_assert(sizeof(RowBlock) == 64);

uint64_t panel_bytes(int64_t n) {
  return static_cast<uint64_t>(n / kQK) * sizeof(PanelBlock);
}

void pack(const void* act, uint64_t act_row_bytes, int64_t n, int nt, void* panel) {
  const int64_t nb = n / kQK;
  auto* p = static_cast<PanelBlock*>(panel);
  std::memset(panel, 0, panel_bytes(n));  // tokens nt..7: zero codes and scales
  for (int t = 0; t < nt; ++t) {
    const auto* y =
        reinterpret_cast<const BlockQ8_0*>(static_cast<const uint8_t*>(act) + t * act_row_bytes);
    for (int64_t i = 0; i < nb; ++i) {
      std::memcpy(p[i].qs[t], y[i].qs, kQK);
      p[i].d[t] = half_to_float(y[i].d);
    }
  }
}

uint64_t unpacked_row_bytes(int64_t n) {
  return static_cast<uint64_t>(n / kQK) * (sizeof(RowBlock) + sizeof(float));
}

// Rows of Block -> RowBlocks and scales; codes(block) gives its [32] signed
// codes in element order.
template <class Block, class Codes>
void unpack_rows(const void* w, uint64_t w_row_bytes, int nr, int64_t n, void* dst, Codes codes) {
  const int64_t nb = n / kQK;
  for (int r = 0; r < nr; ++r) {
    const auto* x =
        reinterpret_cast<const Block*>(static_cast<const uint8_t*>(w) + r * w_row_bytes);
    auto* u = reinterpret_cast<RowBlock*>(static_cast<uint8_t*>(dst) +
                                          r * unpacked_row_bytes(n));  // [nb]
    float* d = reinterpret_cast<float*>(u + nb);                       // [nb]
    for (int64_t i = 0; i < nb; ++i) {
      const __m256i q = codes(x[i]);
      // |-128| wraps to 0x80, which maddubs reads as the unsigned 128.
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(u[i].abs_q), _mm256_sign_epi8(q, q));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(u[i].q), q);
      d[i] = half_to_float(x[i].d);
    }
  }
}

void unpack_q8_0(const void* w, uint64_t w_row_bytes, int nr, int64_t n, void* dst) {
  unpack_rows<BlockQ8_0>(w, w_row_bytes, nr, n, dst,
                         [](const BlockQ8_0& b) { return load256(b.qs); });
}

void unpack_q5_0(const void* w, uint64_t w_row_bytes, int nr, int64_t n, void* dst) {
  unpack_rows<BlockQ5_0>(w, w_row_bytes, nr, n, dst, [](const BlockQ5_0& b) {
    return _mm256_sub_epi8(_mm256_or_si256(unpack_nibbles(b.qs), fifth_bits(b.qh)),
                           _mm256_set1_epi8(16));  // u - 16 in [-16, 15]
  });
}

// One unpacked row (w: [nb] blocks, dw: [nb] scales) x the 8 tokens of
// the panel p, blocks [i0, i1): acc ([8 tokens][8 lanes]) holds the sums of
// the blocks before i0 and gets those up to i1. Stopping and resuming keeps
// every lane's float steps in block order, so the bits do not depend on the
// split.
#if defined(__AVX512BW__) && defined(__AVX512VNNI__)
// The avx512-vnni build: two tokens per 512-bit register (a panel block holds
// tokens t and t + 1's codes side by side, and acc_mem their lanes), so each
// step below serves two tokens. 512-bit has no vpsignb; a masked subtract
// negates the activations where q < 0 instead (where q = 0, |q| = 0 zeroes
// the product either way; activations lie in [-127, 127], so negation is
// exact). Every lane still adds (d_w * d_a) * float(s_l) with one FMA per
// block in block order: the same bits as the 256-bit loop. Session 20
// (Sapphire-Rapids-class KVM guest, 2 threads), 1.5B Q8_0 pp512: 72-74 t/s
// with the 256-bit loop, 84 this way. Starting each dpbusd from a panel-held
// -128 * (sum of the lane's activations) against q + 128, which drops the
// masked subtract, measured no faster (80-83).
void row_panel(const RowBlock* w, const float* dw, const PanelBlock* p, int64_t i0, int64_t i1,
               float* acc_mem) {
  __m512 acc[kLanes / 2];  // [4 token pairs][2 tokens][8 lanes]
  for (int j = 0; j < kLanes / 2; ++j) acc[j] = _mm512_loadu_ps(acc_mem + 2 * kLanes * j);
  __m512i pair_scale[kLanes / 2];  // permutexvar index: token 2j's scale, then 2j + 1's
  for (int j = 0; j < kLanes / 2; ++j) {
    pair_scale[j] = _mm512_inserti64x4(_mm512_set1_epi32(2 * j), _mm256_set1_epi32(2 * j + 1), 1);
  }
  for (int64_t i = i0; i < i1; ++i) {
    // d_w * d_a for the 8 tokens (the dot's product, same bits).
    const __m512 sv =
        _mm512_castps256_ps512(_mm256_mul_ps(_mm256_broadcast_ss(dw + i), _mm256_load_ps(p[i].d)));
    const __m512i abs_q = _mm512_broadcast_i64x4(load256(w[i].abs_q));
    const __mmask64 negative = _mm512_movepi8_mask(_mm512_broadcast_i64x4(load256(w[i].q)));
#pragma GCC unroll 4
    for (int j = 0; j < kLanes / 2; ++j) {
      const __m512i a = _mm512_loadu_si512(p[i].qs[2 * j]);  // tokens 2j, 2j + 1
      const __m512i signed_a = _mm512_mask_sub_epi8(a, negative, _mm512_setzero_si512(), a);
      const __m512i s = _mm512_dpbusd_epi32(_mm512_setzero_si512(), abs_q, signed_a);  // [2][8]
      const __m512 sc = _mm512_permutexvar_ps(pair_scale[j], sv);
      acc[j] = _mm512_fmadd_ps(sc, _mm512_cvtepi32_ps(s), acc[j]);
    }
  }
  for (int j = 0; j < kLanes / 2; ++j) _mm512_storeu_ps(acc_mem + 2 * kLanes * j, acc[j]);
}
#else
// Lane k (0..3) of v's first 128-bit half, in all 8 lanes, when both
// halves hold the same 4 values.
inline __m256 broadcast_lane(__m256 v, int k) {
  switch (k) {
    case 0:
      return _mm256_permute_ps(v, 0x00);
    case 1:
      return _mm256_permute_ps(v, 0x55);
    case 2:
      return _mm256_permute_ps(v, 0xAA);
    default:
      return _mm256_permute_ps(v, 0xFF);
  }
}

void row_panel(const RowBlock* w, const float* dw, const PanelBlock* p, int64_t i0, int64_t i1,
               float* acc_mem) {
  __m256 acc[kLanes];  // [8 tokens][8 lanes]
  for (int t = 0; t < kLanes; ++t) acc[t] = _mm256_load_ps(acc_mem + kLanes * t);
#pragma GCC unroll 2
  for (int64_t i = i0; i < i1; ++i) {
    // d_w * d_a as the dot computes it (same bits), tokens 0-3 and 4-7
    // each in both 128-bit halves, so one in-lane shuffle broadcasts a
    // token's scale (matmul_bench: 80 -> 82 GFLOP/s over a broadcast load
    // per token, which competes with the FMAs and conversions for issue).
    const __m256 d_w = _mm256_broadcast_ss(dw + i);
    __m256 sv[2];  // [2][4 tokens, twice]
    sv[0] = _mm256_mul_ps(d_w, _mm256_broadcast_ps(reinterpret_cast<const __m128*>(p[i].d)));
    sv[1] = _mm256_mul_ps(d_w, _mm256_broadcast_ps(reinterpret_cast<const __m128*>(p[i].d + 4)));
    const __m256i abs_q = load256(w[i].abs_q);
    const __m256i q = load256(w[i].q);
#pragma GCC unroll 8
    for (int t = 0; t < kLanes; ++t) {
      const __m256i signed_a = _mm256_sign_epi8(load256(p[i].qs[t]), q);
      const __m256i s = dot_u8(abs_q, signed_a);
      const __m256 sc = broadcast_lane(sv[t / 4], t % 4);
      acc[t] = _mm256_fmadd_ps(sc, _mm256_cvtepi32_ps(s), acc[t]);
    }
  }
  for (int t = 0; t < kLanes; ++t) _mm256_store_ps(acc_mem + kLanes * t, acc[t]);
}
#endif

// Blocks per pass: one panel's share (64 x 288 bytes = 18 KiB) stays in L1
// while every row passes over it (without the split, the down projection's
// 280-block panels came from L2 once per row: matmul_bench 4864 x 896 at
// T = 128 ran 5-10 % slower than the other shapes).
constexpr int64_t kChunkBlocks = 64;
constexpr int kMaxRows = 16;  // rows per pass over the chunks (partial sums on the stack)

void run(const void* unpacked, int nr, const void* panel, int64_t n, int nt, float* y, int64_t ys) {
  const int64_t nb = n / kQK;
  const uint64_t u_stride = unpacked_row_bytes(n);
  const auto* p = static_cast<const PanelBlock*>(panel);
  const int n_panels = nt > kLanes ? 2 : 1;
  alignas(32) float partial[kMaxRows][2][kLanes * kLanes];  // [rows][panels][8 tokens][8 lanes]
  for (int r0 = 0; r0 < nr; r0 += kMaxRows) {
    const int rows = nr - r0 < kMaxRows ? nr - r0 : kMaxRows;
    std::memset(partial, 0, sizeof(partial));
    for (int64_t i0 = 0; i0 < nb; i0 += kChunkBlocks) {
      const int64_t i1 = i0 + kChunkBlocks < nb ? i0 + kChunkBlocks : nb;
      for (int q = 0; q < n_panels; ++q) {
        for (int r = 0; r < rows; ++r) {
          const auto* w = reinterpret_cast<const RowBlock*>(static_cast<const uint8_t*>(unpacked) +
                                                            (r0 + r) * u_stride);  // [nb]
          row_panel(w, reinterpret_cast<const float*>(w + nb), p + q * nb, i0, i1, partial[r][q]);
        }
      }
    }
    for (int t = 0; t < nt; ++t)
      for (int r = 0; r < rows; ++r)
        y[t * ys + r0 + r] =
            hsum_ps(_mm256_load_ps(partial[r][t / kLanes] + kLanes * (t % kLanes)));
  }
}

}  // namespace

const GemmKernel gemm_q8_0_q8_0 = {panel_bytes, pack, unpacked_row_bytes, unpack_q8_0, run};
const GemmKernel gemm_q5_0_q8_0 = {panel_bytes, pack, unpacked_row_bytes, unpack_q5_0, run};

}  // namespace frugal::kernels::FRUGAL_X86_NS

#endif  // __AVX2__ && __FMA__ && __F16C__
