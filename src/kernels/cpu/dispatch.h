// The per-type kernel tables matmul() runs through: the scalar reference
// (kernels/cpu/ref, always present) and one per instruction set the CPU can
// run (kernels/cpu/x86/: "avx2" = AVX2 + FMA + F16C, and "avx512-vnni" /
// "avx-vnni" where the CPU has the VNNI dot products; kernels/cpu/arm/: "neon",
// and "neon-dotprod" where the CPU has SDOT). The CPU's features are read
// once, on first use; active_kernels() is then the best table the CPU supports, unless
// select_kernels() picked another. Tests loop over every table in
// available_kernels(). Design: kernels/README.md.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "common/result.h"
#include "gguf/ggml_type.h"
#include "kernels/cpu/attention.h"

namespace frugal::kernels {

// Dot of one weight row (n elements) against one activation row already in
// `act_type` format.
using VecDotFn = float (*)(const void* w_row, const void* act_row, int64_t n);
// Converts n float activations into `act_type` format (n a block multiple).
using QuantizeActFn = void (*)(const float* x, void* dst, int64_t n);
// The same dot for n_tokens (1..kDotTile) activation rows at once, the weight
// row decoded once: y[t * y_stride] = dot(w_row, act + t * act_row_bytes, n).
// Each token's result equals what `dot` returns for it, bit for bit.
using VecDotTileFn = void (*)(const void* w_row, const void* act, uint64_t act_row_bytes, int64_t n,
                              int n_tokens, float* y, int64_t y_stride);
inline constexpr int kDotTile = 4;
// n_rows (any number >= 1) weight rows, row r at w + r * w_row_bytes, times
// n_tokens (1..kDotTile) activation rows:
//   y[t * y_stride + r] = dot(w + r * w_row_bytes, act + t * act_row_bytes, n),
// bit for bit. Several rows per call let a kernel share each activation
// block's work between rows and run independent accumulator chains. matmul
// passes kDotRows rows per call for a tile of tokens, and a thread's whole
// chunk of rows at decode (one token), so work that depends on the
// activations alone is done once per chunk.
using VecDotBlockFn = void (*)(const void* w, uint64_t w_row_bytes, int n_rows, const void* act,
                               uint64_t act_row_bytes, int64_t n, int n_tokens, float* y,
                               int64_t y_stride);
inline constexpr int kDotRows = 8;

// Prefill GEMM (tokens in SIMD lanes, kernels/README.md): activations of up
// to kGemmPanelTokens tokens are interleaved into a panel once per matmul
// call, weight rows are unpacked (codes to bytes, scales to floats) once per
// block of rows, and run() multiplies unpacked rows by a panel:
//   y[t * y_stride + r] = dot(row r, token t), t < n_tokens, r < n_rows,
// bit for bit what the table's `dot` returns. Sizes are per row / per panel
// for n elements (n a multiple of the weight and activation blocks).
inline constexpr int kGemmPanelTokens = 8;
// matmul() takes the GEMM from this many tokens (below: dot_block tiles).
inline constexpr int kGemmMinTokens = 8;
struct GemmKernel {
  uint64_t (*panel_bytes)(int64_t n);
  // act: n_tokens (1..kGemmPanelTokens) rows in act_type format.
  void (*pack_panel)(const void* act, uint64_t act_row_bytes, int64_t n, int n_tokens, void* panel);
  uint64_t (*unpacked_row_bytes)(int64_t n);
  void (*unpack_rows)(const void* w, uint64_t w_row_bytes, int n_rows, int64_t n, void* dst);
  // n_tokens 1..2 * kGemmPanelTokens: tokens from 8 on are in the panel
  // that follows `panel` in memory.
  void (*run)(const void* unpacked, int n_rows, const void* panel, int64_t n, int n_tokens,
              float* y, int64_t y_stride);
};

struct DotKernel {
  gguf::GgmlType act_type = gguf::GgmlType::F32;  // F32: activations used as they are
  QuantizeActFn quantize_act = nullptr;           // null when act_type is F32
  VecDotFn dot = nullptr;                         // null: weight type not supported
  VecDotTileFn dot_tile = nullptr;                // null: matmul calls dot per token
  VecDotBlockFn dot_block = nullptr;              // null: dot_tile (or dot) per row
  const GemmKernel* gemm = nullptr;               // null: prefill through dot_block / dot_tile
  // Decode (n_tokens 1) over a weight repacked at load (matmul.h
  // WeightLayout): w is the first of n_rows rows (a multiple of the layout's
  // row group), w_row_bytes the plain row size; bits as dot_block's. Null:
  // matmul unpacks the rows to plain ones and runs dot_block.
  VecDotBlockFn dot_packed = nullptr;
};

inline constexpr int kKernelTypeSlots = 32;  // covers every GgmlType id we know

using AttendFn = void (*)(const AttendArgs& a);
using AttendGroupFn = void (*)(const AttendGroupArgs& g);
using SwigluFn = void (*)(const float* gate, const float* up, float* out, int64_t n);

struct KernelTable {
  const char* isa = "ref";
  DotKernel by_type[kKernelTypeSlots];
  AttendFn attend = nullptr;             // attention.h
  AttendGroupFn attend_group = nullptr;  // null: attend() per query (phase kAll only)
  SwigluFn swiglu = nullptr;             // ops.h

  const DotKernel* find(gguf::GgmlType t) const {
    const auto i = static_cast<uint32_t>(t);
    if (i >= kKernelTypeSlots || by_type[i].dot == nullptr) return nullptr;
    return &by_type[i];
  }
};

// attend_group (attention.h) through table `t`: its group kernel, or its
// attend() once per query.
void attend_group_with(const KernelTable& t, const AttendGroupArgs& g);

const KernelTable& ref_kernels();
// The table matmul() uses: the best one this CPU runs, or the one picked by
// select_kernels().
const KernelTable& active_kernels();
// Every table this CPU can run, reference first, best last.
std::span<const KernelTable* const> available_kernels();
// The table named `name` ("ref", "avx2", "avx512-vnni", "avx-vnni", "neon", "neon-dotprod") if
// this CPU can run it, else null.
const KernelTable* find_kernels(std::string_view name);
// Makes the table named `name` active for the whole process ("auto": the
// best one). Meant for the CLI/bench layer (e.g. an env var it reads) and
// tests; fails, changing nothing, when the name is unknown or the CPU cannot
// run that table. Safe to call from any thread; matmul calls already running
// finish with the table they started with.
Status select_kernels(std::string_view name);

}  // namespace frugal::kernels
