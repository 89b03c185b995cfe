// Test cases for the VNNI kernel tables, run on an emulated CPU
// (tests/emulated/run_vnni_emulated.py loads this module into a Python
// process and executes the calls it describes on Bochs' x86 CPU, whose
// models include AVX512-VNNI and AVX-VNNI; this machine has neither).
//
// Each case is a short sequence of kernel calls on buffers this module fills
// with random blocks. emu_case_prepare() runs the same sequence natively with
// the AVX2 kernels (the machine running the test must have AVX2) and keeps
// their output; the driver runs the VNNI kernels' calls under emulation, and
// emu_case_check() compares the two outputs bit for bit: the VNNI builds
// promise the AVX2 table's exact bits (avx2_common.h), and the AVX2 table is
// checked against the scalar reference by kernels_simd_test.
//
// The module is compiled with baseline flags; the kernels it calls natively
// are the AVX2 build's, the ones it only describes are the VNNI builds'.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/packed_q4_k.h"
#include "kernels/cpu/x86/avx2.h"
#include "kernels/cpu/x86/cpu_features.h"
#include "tensor/blocks.h"

namespace frugal::kernels::avx512vnni {
#include "kernels/cpu/x86/x86_kernel_decls.inc"
}  // namespace frugal::kernels::avx512vnni
namespace frugal::kernels::avxvnni {
#include "kernels/cpu/x86/x86_kernel_decls.inc"
}  // namespace frugal::kernels::avxvnni

namespace {

using namespace frugal::kernels;
using frugal::tensor::BlockQ8_K;

// One kernel build's functions for the types the VNNI builds replace.
struct Kernels {
  VecDotFn dot[7];
  VecDotTileFn tile[7];
  VecDotBlockFn block[7];
  const GemmKernel* gemm[7];  // null: the type has no GEMM
};

#define FRUGAL_EMU_KERNELS(ns)                                                                     \
  Kernels {                                                                                        \
    {ns::dot_q4_0_q8_0, ns::dot_q5_0_q8_0, ns::dot_q8_0_q8_0, ns::dot_q4_1_q8_1,                   \
     ns::dot_q4_k_q8_k, ns::dot_q5_k_q8_k, ns::dot_q6_k_q8_k},                                     \
        {ns::tile_q4_0_q8_0, ns::tile_q5_0_q8_0, ns::tile_q8_0_q8_0, ns::tile_q4_1_q8_1,           \
         ns::tile_q4_k_q8_k, ns::tile_q5_k_q8_k, ns::tile_q6_k_q8_k},                              \
        {ns::block_q4_0_q8_0, ns::block_q5_0_q8_0, ns::block_q8_0_q8_0, ns::block_q4_1_q8_1,       \
         ns::block_q4_k_q8_k, ns::block_q5_k_q8_k, ns::block_q6_k_q8_k},                           \
    {                                                                                              \
      &ns::gemm_q4_0_q8_0, &ns::gemm_q5_0_q8_0, &ns::gemm_q8_0_q8_0, nullptr, &ns::gemm_q4_k_q8_k, \
          nullptr, nullptr                                                                         \
    }                                                                                              \
  }

const Kernels kAvx2 = FRUGAL_EMU_KERNELS(avx2);
const Kernels kAvx512Vnni = FRUGAL_EMU_KERNELS(avx512vnni);
const Kernels kAvxVnni = FRUGAL_EMU_KERNELS(avxvnni);

// Weight types, in the order of Kernels' arrays.
struct TypeInfo {
  const char* name;
  int block_elems;
  int block_bytes;
  int act_block_bytes;  // Q8_0, Q8_1 or Q8_K activation block
  int scale_offset;     // where the f16 scale d sits in a block
  bool has_min;         // a second f16 (Q4_1's m, K-quants' dmin) right after d
};
constexpr TypeInfo kTypes[7] = {
    {"q4_0", 32, 18, 34, 0, false},      {"q5_0", 32, 22, 34, 0, false},
    {"q8_0", 32, 34, 34, 0, false},      {"q4_1", 32, 20, 36, 0, true},
    {"q4_k", 256, 144, 292, 0, true},    {"q5_k", 256, 176, 292, 0, true},
    {"q6_k", 256, 210, 292, 208, false},
};
static_assert(sizeof(BlockQ8_K) == 292);

}  // namespace

extern "C" {

// A call the driver makes on the emulated CPU: fn(args...) by the System V
// ABI (integer and pointer arguments only). A float result (a dot) comes
// back in xmm0; the driver hands its bits to emu_case_set_result().
struct EmuCall {
  uint64_t fn;
  uint64_t args[10];
  int32_t nargs;
  int32_t returns_float;
};
struct EmuCase {
  char name[96];
  int32_t ncalls;
  EmuCall calls[4];
  int32_t nregions;
  uint64_t regions[8][2];  // [start, end) of every buffer the calls touch
};

}  // extern "C"

namespace {

// One case's buffers, alive from prepare to check.
struct Buffer {
  std::unique_ptr<uint8_t, decltype(&std::free)> mem{nullptr, &std::free};
  size_t size = 0;
  uint8_t* data() const { return mem.get(); }
};
Buffer make_buffer(size_t size) {
  Buffer b;
  b.size = (size + 63) / 64 * 64;
  b.mem.reset(static_cast<uint8_t*>(std::aligned_alloc(64, b.size)));
  std::memset(b.mem.get(), 0, b.size);
  return b;
}

struct State {
  Buffer w, a, y, panel, unpacked;
  std::vector<uint8_t> expected;  // the AVX2 kernels' output bytes
  uint32_t result_bits = 0;       // a dot's float, from the driver
  bool dot = false;
};
State g_state;

// A random f16 with exponent well inside the normal range and either sign.
uint16_t random_half(std::mt19937& rng) {
  const uint32_t exponent = 9 + rng() % 5;  // 2^-6 .. 2^-2
  return static_cast<uint16_t>(((rng() & 1u) << 15) | (exponent << 10) | (rng() & 0x3FFu));
}

void fill_weights(const TypeInfo& t, uint8_t* w, int64_t blocks, std::mt19937& rng) {
  for (int64_t b = 0; b < blocks; ++b) {
    uint8_t* p = w + b * t.block_bytes;
    for (int i = 0; i < t.block_bytes; ++i) p[i] = static_cast<uint8_t>(rng());
    const uint16_t d = random_half(rng), m = random_half(rng);
    std::memcpy(p + t.scale_offset, &d, 2);
    if (t.has_min) std::memcpy(p + t.scale_offset + 2, &m, 2);
  }
}

// Activation rows as the quantizers would write them: codes in [-127, 127].
void fill_activations(const TypeInfo& t, uint8_t* a, int64_t blocks, std::mt19937& rng) {
  for (int64_t b = 0; b < blocks; ++b) {
    uint8_t* p = a + b * t.act_block_bytes;
    if (t.act_block_bytes == 292) {
      BlockQ8_K q{};
      q.d = std::ldexp(1.0f + static_cast<float>(rng() % 1000) / 1000.0f, -7);
      for (int i = 0; i < 256; ++i)
        q.qs[i] = static_cast<int8_t>(static_cast<int>(rng() % 255) - 127);
      for (int g = 0; g < 16; ++g) {
        int sum = 0;
        for (int i = 0; i < 16; ++i) sum += q.qs[16 * g + i];
        q.bsums[g] = static_cast<int16_t>(sum);
      }
      std::memcpy(p, &q, sizeof(q));
      continue;
    }
    const int head = t.act_block_bytes - 32;  // d, and Q8_1's s
    for (int i = 0; i < head / 2; ++i) {
      const uint16_t h = random_half(rng);
      std::memcpy(p + 2 * i, &h, 2);
    }
    for (int i = 0; i < 32; ++i)
      p[head + i] = static_cast<uint8_t>(static_cast<int8_t>(static_cast<int>(rng() % 255) - 127));
  }
}

// The case list: for each of the seven types, a dot, tiles of 1..4 tokens and blocks of
// 19 rows (8-row kernels and the remainder) x 1..4 tokens; then each GEMM
// (Q4_0, Q5_0, Q8_0, Q4_K) over 14 rows (the 3-row micro-kernel and a remainder
// of 2) x 8 tokens (one panel) and x 13 (two), with 65 legacy blocks (Q8_0's
// two chunks of 64) or 3 super-blocks per row.
constexpr int kTypeCases = 9;
constexpr int kRows = 19;
constexpr int kGemmRows = 14;
constexpr int kGemmTypes[4] = {0, 1, 2, 4};
constexpr int kGemmTokens[2] = {8, 13};

// Then decode (19 rows x 1 token) over long rows: Q4_0 at 1024 blocks (the
// most whose activation sums its decode kernel keeps per call) and at 1056
// (past it), Q4_K and Q6_K at 32 super-blocks.
struct LongRow {
  int type;
  int64_t n;
};
constexpr LongRow kLongRows[4] = {{0, 1024 * 32}, {0, 1056 * 32}, {4, 32 * 256}, {6, 32 * 256}};

// Last, Q4_K decode over 32 rows packed in 16-row tiles (packed_q4_k.h) x 3
// super-blocks against the AVX2 kernel on the plain rows: the avx512-vnni
// build's packed kernel; the avx-vnni build has none and runs its plain
// 32-row block kernel instead.
constexpr int kPackedRows = 32;

int case_count() {
  return 7 * kTypeCases + 4 * 2 + 4 + 1;
}

void add_region(EmuCase* c, const Buffer& b) {
  c->regions[c->nregions][0] = reinterpret_cast<uint64_t>(b.data());
  c->regions[c->nregions][1] = reinterpret_cast<uint64_t>(b.data()) + b.size;
  ++c->nregions;
}

template <class... A>
EmuCall make_call(const void* fn, bool returns_float, A... args) {
  EmuCall call{};
  call.fn = reinterpret_cast<uint64_t>(fn);
  const uint64_t values[] = {static_cast<uint64_t>(args)...};
  call.nargs = static_cast<int32_t>(sizeof...(args));
  for (int i = 0; i < call.nargs; ++i) call.args[i] = values[i];
  call.returns_float = returns_float ? 1 : 0;
  return call;
}

uint64_t ptr(const void* p) {
  return reinterpret_cast<uint64_t>(p);
}

// Allocates and fills the case's weights (rows x n of type t), activations
// (tokens rows) and output; returns the weight and activation row sizes.
struct RowBytes {
  uint64_t w, a;
};
RowBytes fill_case(const TypeInfo& t, int64_t n, int rows, int tokens, std::mt19937& rng) {
  State& s = g_state;
  const int64_t nb = n / t.block_elems;
  const RowBytes bytes{static_cast<uint64_t>(nb) * t.block_bytes,
                       static_cast<uint64_t>(nb) * t.act_block_bytes};
  s.w = make_buffer(bytes.w * rows);
  s.a = make_buffer(bytes.a * tokens);
  s.y = make_buffer(sizeof(float) * rows * tokens);
  fill_weights(t, s.w.data(), nb * rows, rng);
  fill_activations(t, s.a.data(), nb * tokens, rng);
  return bytes;
}

int prepare(int index, const Kernels& k, EmuCase* c) {
  std::memset(c, 0, sizeof(*c));
  g_state = State{};
  std::mt19937 rng(1234u + static_cast<uint32_t>(index));
  State& s = g_state;
  const int first_long = 7 * kTypeCases + 4 * 2;
  if (index == case_count() - 1) {
    const TypeInfo& t = kTypes[4];
    const int64_t n = 3 * 256;
    const auto [w_row, a_row] = fill_case(t, n, kPackedRows, 1, rng);
    std::vector<float> y(kPackedRows, 0.0f);
    kAvx2.block[4](s.w.data(), w_row, kPackedRows, s.a.data(), a_row, n, 1, y.data(), kPackedRows);
    s.expected.resize(y.size() * sizeof(float));
    std::memcpy(s.expected.data(), y.data(), s.expected.size());
    const bool packed = &k == &kAvx512Vnni;
    if (packed) {
      s.unpacked = make_buffer(w_row * kPackedRows);  // the packed tiles
      for (int r = 0; r < kPackedRows; r += kQ4KPackRows)
        pack_q4_k_x16(s.w.data() + r * w_row, w_row, n / 256, s.unpacked.data() + r * w_row);
    }
    const Buffer& w = packed ? s.unpacked : s.w;
    c->calls[0] = make_call(
        reinterpret_cast<const void*>(packed ? avx512vnni::block_q4_k_x16_q8_k : k.block[4]), false,
        ptr(w.data()), w_row, kPackedRows, ptr(s.a.data()), a_row, n, 1, ptr(s.y.data()),
        int64_t{kPackedRows});
    c->ncalls = 1;
    std::snprintf(c->name, sizeof(c->name), "Q4_K %s decode, %d rows, n = %lld",
                  packed ? "packed" : "plain", kPackedRows, static_cast<long long>(n));
    add_region(c, w);
    add_region(c, s.a);
    add_region(c, s.y);
    return 0;
  }
  if (index < 7 * kTypeCases || index >= first_long) {
    const bool long_row = index >= first_long;
    const int ti = long_row ? kLongRows[index - first_long].type : index / kTypeCases;
    const int kind = long_row ? 5 : index % kTypeCases;  // long rows: a block, one token
    const TypeInfo& t = kTypes[ti];
    // Two K super-blocks or sixteen legacy blocks, or a long row.
    const int64_t n = long_row ? kLongRows[index - first_long].n : 2 * 256;
    const auto [w_row, a_row] = fill_case(t, n, kRows, kDotTile, rng);
    std::vector<float> y(kRows * kDotTile, 0.0f);
    if (kind == 0) {
      s.dot = true;
      const float v = kAvx2.dot[ti](s.w.data(), s.a.data(), n);
      s.expected.resize(4);
      std::memcpy(s.expected.data(), &v, 4);
      c->calls[0] = make_call(reinterpret_cast<const void*>(k.dot[ti]), true, ptr(s.w.data()),
                              ptr(s.a.data()), n);
      std::snprintf(c->name, sizeof(c->name), "%s dot", t.name);
    } else if (kind <= 4) {
      const int nt = kind;
      kAvx2.tile[ti](s.w.data(), s.a.data(), a_row, n, nt, y.data(), 1);
      c->calls[0] = make_call(reinterpret_cast<const void*>(k.tile[ti]), false, ptr(s.w.data()),
                              ptr(s.a.data()), a_row, n, nt, ptr(s.y.data()), int64_t{1});
      std::snprintf(c->name, sizeof(c->name), "%s tile, %d tokens", t.name, nt);
    } else {
      const int nt = kind - 4;
      kAvx2.block[ti](s.w.data(), w_row, kRows, s.a.data(), a_row, n, nt, y.data(), kRows);
      c->calls[0] =
          make_call(reinterpret_cast<const void*>(k.block[ti]), false, ptr(s.w.data()), w_row,
                    kRows, ptr(s.a.data()), a_row, n, nt, ptr(s.y.data()), int64_t{kRows});
      std::snprintf(c->name, sizeof(c->name), "%s block, %d rows x %d tokens, n = %lld", t.name,
                    kRows, nt, static_cast<long long>(n));
    }
    if (!s.dot) {
      s.expected.resize(y.size() * sizeof(float));
      std::memcpy(s.expected.data(), y.data(), s.expected.size());
    }
    c->ncalls = 1;
    add_region(c, s.w);
    add_region(c, s.a);
    add_region(c, s.y);
    return 0;
  }
  // A GEMM: pack the panels, unpack the rows, run.
  const int gi = index - 7 * kTypeCases;
  const int ti = kGemmTypes[gi / 2], nt = kGemmTokens[gi % 2];
  const TypeInfo& t = kTypes[ti];
  const int64_t n = t.block_elems == 256 ? 3 * 256 : 65 * 32;
  const auto [w_row, a_row] = fill_case(t, n, kGemmRows, nt, rng);
  const GemmKernel& g = *kAvx2.gemm[ti];
  const uint64_t panel = g.panel_bytes(n);
  const bool two_panels = nt > kGemmPanelTokens;
  const int first = two_panels ? kGemmPanelTokens : nt;  // tokens of the first panel
  s.panel = make_buffer(2 * panel);
  s.unpacked = make_buffer(g.unpacked_row_bytes(n) * kGemmRows);
  std::vector<float> y(kGemmRows * nt, 0.0f);
  {
    Buffer p = make_buffer(2 * panel), u = make_buffer(g.unpacked_row_bytes(n) * kGemmRows);
    g.pack_panel(s.a.data(), a_row, n, first, p.data());
    if (two_panels)
      g.pack_panel(s.a.data() + first * a_row, a_row, n, nt - first, p.data() + panel);
    g.unpack_rows(s.w.data(), w_row, kGemmRows, n, u.data());
    g.run(u.data(), kGemmRows, p.data(), n, nt, y.data(), kGemmRows);
  }
  s.expected.resize(y.size() * sizeof(float));
  std::memcpy(s.expected.data(), y.data(), s.expected.size());
  const GemmKernel& e = *k.gemm[ti];
  int calls = 0;
  c->calls[calls++] = make_call(reinterpret_cast<const void*>(e.pack_panel), false, ptr(s.a.data()),
                                a_row, n, first, ptr(s.panel.data()));
  if (two_panels)
    c->calls[calls++] = make_call(reinterpret_cast<const void*>(e.pack_panel), false,
                                  ptr(s.a.data() + first * a_row), a_row, n, nt - first,
                                  ptr(s.panel.data() + panel));
  c->calls[calls++] = make_call(reinterpret_cast<const void*>(e.unpack_rows), false,
                                ptr(s.w.data()), w_row, kGemmRows, n, ptr(s.unpacked.data()));
  c->calls[calls++] =
      make_call(reinterpret_cast<const void*>(e.run), false, ptr(s.unpacked.data()), kGemmRows,
                ptr(s.panel.data()), n, nt, ptr(s.y.data()), int64_t{kGemmRows});
  c->ncalls = calls;
  std::snprintf(c->name, sizeof(c->name), "%s gemm, %d rows x %d tokens", t.name, kGemmRows, nt);
  add_region(c, s.w);
  add_region(c, s.a);
  add_region(c, s.y);
  add_region(c, s.panel);
  add_region(c, s.unpacked);
  return 0;
}

}  // namespace

extern "C" {

int emu_case_count() {
  return case_count();
}

// isa: "avx512-vnni" or "avx-vnni". Returns 0, or -1 for an unknown index or
// ISA, or when this machine lacks AVX2 (the expected outputs need it).
int emu_case_prepare(int index, const char* isa, EmuCase* c) {
  const x86::CpuFeatures f = x86::detect_cpu_features();
  if (index < 0 || index >= case_count() || !(f.avx && f.avx2 && f.fma && f.f16c)) return -1;
  const std::string name = isa;
  if (name == "avx512-vnni") return prepare(index, kAvx512Vnni, c);
  if (name == "avx-vnni") return prepare(index, kAvxVnni, c);
  return -1;
}

void emu_case_set_result(uint32_t float_bits) {
  g_state.result_bits = float_bits;
}

// 0 when the emulated output equals the AVX2 kernels' bit for bit; otherwise
// the number of differing values, described in msg.
int emu_case_check(char* msg, int cap) {
  const State& s = g_state;
  const uint8_t* got = s.dot ? reinterpret_cast<const uint8_t*>(&s.result_bits) : s.y.data();
  int bad = 0;
  for (size_t i = 0; i + 4 <= s.expected.size(); i += 4) {
    if (std::memcmp(got + i, s.expected.data() + i, 4) == 0) continue;
    if (bad++ == 0) {
      float want = 0, have = 0;
      std::memcpy(&want, s.expected.data() + i, 4);
      std::memcpy(&have, got + i, 4);
      std::snprintf(msg, static_cast<size_t>(cap), "value %zu: %.9g, AVX2 %.9g", i / 4,
                    static_cast<double>(have), static_cast<double>(want));
    }
  }
  return bad;
}

// The CPU features as detect_cpu_features() reads them, for the driver to run
// on each emulated CPU model: bit 0 avx, 1 avx2, 2 fma, 3 f16c, 4 avx512_vnni,
// 5 avx_vnni.
void emu_detect_features(uint32_t* out) {
  const x86::CpuFeatures f = x86::detect_cpu_features();
  *out = (f.avx ? 1u : 0u) | (f.avx2 ? 2u : 0u) | (f.fma ? 4u : 0u) | (f.f16c ? 8u : 0u) |
         (f.avx512_vnni ? 16u : 0u) | (f.avx_vnni ? 32u : 0u);
}

}  // extern "C"
