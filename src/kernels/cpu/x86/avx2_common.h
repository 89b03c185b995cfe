// Helpers shared by the avx2_*.cpp files; include only from files compiled
// with -mavx2 -mfma -mf16c. Everything here has internal linkage on purpose:
// an out-of-line copy of an inline function compiled with AVX2 must never be
// picked by the linker for a baseline file (it would fault on older CPUs).
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#ifndef FRUGAL_X86_NS
#define FRUGAL_X86_NS avx2
#endif

namespace frugal::kernels::FRUGAL_X86_NS {
namespace {

// Arguments of one tile call, shapes as in avx2.h.
struct TileArgs {
  const uint8_t* w;  // weight row 0 of the tile; row r at w + r * w_stride
  const uint8_t* a;  // [nt, stride bytes] activation rows
  uint64_t stride;
  int64_t n;  // elements per row
  float* y;   // y[t * ys + r]
  int64_t ys;
  uint64_t w_stride = 0;
};

// Software prefetch of weight bytes a decode kernel will read soon, into L2
// (PREFETCHT1), not L1 (T0). Each T0 prefetch of a line still in DRAM holds
// one of the core's few L1 miss buffers until the line arrives, the same
// buffers the kernel's own loads wait for; a T1 prefetch is tracked by L2
// alone, and the later L1 miss costs an L2 hit, which the out-of-order core
// hides. Measured on the session-20 host (Sapphire-Rapids-class KVM guest, 2
// threads, weights from DRAM, cold matmul of 1.2 GB of copies of one matrix
// in turn, T = 1): Q4_K 1536x8960 15.6 -> 20.1 GB/s, 1536x151936 16.1 ->
// 20.3; Q4_0 22.3-24.1 -> 25.0-25.9; Q6_K 22.0-22.5 -> 23.8-24.8; Q8_0
// 25.0-26.4 -> 27.1-28.3 (every shape of the three tried improved). Both
// AMD and Intel fill L2 for T1 (AMD's T1/T2 are its "L2" hints).
inline void prefetch_l2(const void* p) {
  _mm_prefetch(static_cast<const char*>(p), _MM_HINT_T1);
}

// Decode streams each weight row from memory once, and the hardware
// prefetchers alone left the row-at-a-time K-quant kernels waiting on it:
// cold_bench-style runs (T = 1, weights from DRAM) of Q6_K 8960 x 1536 read
// 13.9 GB/s on one Zen 3 core, 16.2 / 18.4 / 18.6 with this 1 / 2 / 4 KiB
// ahead, and on two cores 26.1 -> 31.0 (the bandwidth probe: 33.4; those
// with T0 prefetches, before prefetch_l2). A kernel
// calls prefetch_stream(p) once per block of at most 256 bytes it starts
// reading at p: the four lines from p + kStreamAheadBytes cover the block's
// bytes that far ahead (past the row's end: the next row, read next).
constexpr int64_t kStreamAheadBytes = 4096;
inline void prefetch_stream(const void* p) {
  const char* a = static_cast<const char*>(p) + kStreamAheadBytes;
  prefetch_l2(a);
  prefetch_l2(a + 64);
  prefetch_l2(a + 128);
  prefetch_l2(a + 192);
}

// Calls Kernel::run<NT> with NT = nt (1..4), so each tile size is its own
// fully unrolled loop.
template <class Kernel>
void run_tile(const TileArgs& args, int nt) {
  switch (nt) {
    case 1:
      Kernel::template run<1>(args);
      break;
    case 2:
      Kernel::template run<2>(args);
      break;
    case 3:
      Kernel::template run<3>(args);
      break;
    default:
      Kernel::template run<4>(args);
      break;
  }
}

// The block form (VecDotBlockFn) of a kernel written for one row at a
// time: rows one after another, each a tile of nt tokens.
template <class Kernel>
void run_rows(TileArgs args, int nr, int nt) {
  for (int r = 0; r < nr; ++r) {
    run_tile<Kernel>(args, nt);
    args.w += args.w_stride;
    args.y += 1;
  }
}

// The block form of a kernel with Kernel::block<R, NT> (R rows decoded per
// pass, R * NT float accumulators). Up to 2 tokens: 4 rows at a time, whose
// independent accumulator chains hide the FMA latency at decode; 3-4 tokens:
// 2 rows, so the R * NT accumulators stay in the 16 ymm registers.
template <class Kernel, int R, int NT>
void run_row_groups(TileArgs args, int nr) {
  for (; nr >= R; nr -= R) {
    Kernel::template block<R, NT>(args);
    args.w += R * args.w_stride;
    args.y += R;
  }
  for (; nr > 0; --nr) {
    Kernel::template block<1, NT>(args);
    args.w += args.w_stride;
    args.y += 1;
  }
}

template <class Kernel>
void run_block(const TileArgs& args, int nr, int nt) {
  switch (nt) {
    case 1:
      run_row_groups<Kernel, 4, 1>(args, nr);
      break;
    case 2:
      run_row_groups<Kernel, 4, 2>(args, nr);
      break;
    case 3:
      run_row_groups<Kernel, 2, 3>(args, nr);
      break;
    default:
      run_row_groups<Kernel, 2, 4>(args, nr);
      break;
  }
}

template <class Kernel>
float run_one(const void* w, const void* a, int64_t n) {
  float y = 0;
  Kernel::template run<1>(
      TileArgs{static_cast<const uint8_t*>(w), static_cast<const uint8_t*>(a), 0, n, &y, 0});
  return y;
}

inline float hsum_ps(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline int32_t hsum_i32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
  return _mm_cvtsi128_si32(s);
}

inline __m256i load256(const void* p) {
  return _mm256_loadu_si256(static_cast<const __m256i*>(p));
}

inline float half_to_float(uint16_t h) {
  return _cvtsh_ss(h);
}

// 16 int16 pair sums -> 8 int32 lanes.
inline __m256i sum_pairs_i16(__m256i v) {
  return _mm256_madd_epi16(v, _mm256_set1_epi16(1));
}

// The integer dot steps, with the VNNI instructions where the file is built
// for them (CMakeLists.txt: the VNNI builds of some avx2_*.cpp files). Every
// caller keeps the AVX2 forms exact (no int16 saturation in maddubs), so both
// forms give the same int32 lanes and the VNNI tables the AVX2 table's bits.
//   dpbusd(acc, u, s): acc + per lane the sum of 4 products u8 x s8.
//   dpwssd(acc, a, b): acc + per lane the sum of 2 products int16 x int16.
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
#define FRUGAL_X86_VNNI 1
inline __m256i dpbusd(__m256i acc, __m256i u, __m256i s) {
  return _mm256_dpbusd_epi32(acc, u, s);
}
inline __m256i dpwssd(__m256i acc, __m256i a, __m256i b) {
  return _mm256_dpwssd_epi32(acc, a, b);
}
#elif defined(__AVXVNNI__)
#define FRUGAL_X86_VNNI 1
inline __m256i dpbusd(__m256i acc, __m256i u, __m256i s) {
  return _mm256_dpbusd_avx_epi32(acc, u, s);
}
inline __m256i dpwssd(__m256i acc, __m256i a, __m256i b) {
  return _mm256_dpwssd_avx_epi32(acc, a, b);
}
#else
inline __m256i dpwssd(__m256i acc, __m256i a, __m256i b) {
  return _mm256_add_epi32(acc, _mm256_madd_epi16(a, b));
}
#endif

// 16 bytes of nibbles -> [32] codes 0..15: element j (low nibble of byte j) in byte j,
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

// Unsigned codes u (at most 128) times signed activations a (in [-127, 127]),
// summed into 8 int32 lanes: maddubs' int16 pair sums (at most 2 * 128 * 127 =
// 32512) stay exact.
inline __m256i dot_u8(__m256i u, __m256i a) {
#if defined(FRUGAL_X86_VNNI)
  return dpbusd(_mm256_setzero_si256(), u, a);
#else
  return sum_pairs_i16(_mm256_maddubs_epi16(u, a));
#endif
}

// Signed int8 codes w times signed int8 activations a (a in [-127, 127], as
// every Q8 activation quantizer produces; w may be -128) summed into 8 int32
// lanes. maddubs and dpbusd want an unsigned operand, so |w| carries w's sign
// over to a. The int16 pair sums stay below 2 * 128 * 127 = 32512: exact.
inline __m256i dot_i8(__m256i w, __m256i a) {
  return dot_u8(_mm256_sign_epi8(w, w), _mm256_sign_epi8(a, w));
}

// The 8 6-bit scales and mins of a Q4_K/Q5_K super-block (layout: blocks.h)
// as bytes [sc0..sc7, mn0..mn7]. The three 32-bit words u0, u1, u2 of the
// packed field hold: sc/mn j < 4 in the low 6 bits of byte j of u0 / u1;
// sc/mn j >= 4 with their low nibble in byte j - 4 of u2 (low / high half)
// and their top 2 bits at the top of byte j - 4 of u0 / u1. Unpacked in SIMD
// lanes (about 10 vector ops instead of 14 scalar ones and four inserts;
// worth about 1 % on the Q4_K decode matmul, matmul_bench on one Zen 3 core).
// `block` points at the super-block, whose first 16 bytes are d, dmin and
// the 12 packed bytes in both types, so one 16-byte load stays inside it.
inline __m128i k4_scales_mins(const void* block) {
  const __m128i v = _mm_srli_si128(_mm_loadu_si128(static_cast<const __m128i*>(block)), 4);
  // [u0, u1, u2, 0]: lanes 0 and 1 give the scales' and the mins' halves.
  const __m128i low6 = _mm_and_si128(v, _mm_set1_epi8(0x3F));  // [sc0..3, mn0..3, ..]
  const __m128i top2 = _mm_slli_epi32(_mm_and_si128(_mm_srli_epi32(v, 6), _mm_set1_epi8(3)), 4);
  const __m128i u2 = _mm_srlv_epi32(_mm_shuffle_epi32(v, 0xAA), _mm_setr_epi32(0, 4, 0, 0));
  const __m128i high =
      _mm_or_si128(_mm_and_si128(u2, _mm_set1_epi8(0x0F)), top2);  // [sc4..7, mn4..7, ..]
  return _mm_unpacklo_epi32(low6, high);
}

// k4_scales_mins of two blocks at once, block a in the low 128-bit lane and
// b in the high one (every step works within a lane): half the instructions
// per block where a kernel unpacks several rows' scales (Q4_K decode).
inline __m256i k4_scales_mins_x2(const void* a, const void* b) {
  const __m256i v = _mm256_srli_si256(
      _mm256_loadu2_m128i(static_cast<const __m128i*>(b), static_cast<const __m128i*>(a)), 4);
  const __m256i low6 = _mm256_and_si256(v, _mm256_set1_epi8(0x3F));
  const __m256i top2 =
      _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(v, 6), _mm256_set1_epi8(3)), 4);
  const __m256i u2 =
      _mm256_srlv_epi32(_mm256_shuffle_epi32(v, 0xAA), _mm256_setr_epi32(0, 4, 0, 0, 0, 4, 0, 0));
  const __m256i high = _mm256_or_si256(_mm256_and_si256(u2, _mm256_set1_epi8(0x0F)), top2);
  return _mm256_unpacklo_epi32(low6, high);
}

}  // namespace
}  // namespace frugal::kernels::FRUGAL_X86_NS
