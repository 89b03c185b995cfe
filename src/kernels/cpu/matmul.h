// Matrix multiplication of a stored weight by float activations:
//   y[t, o] = sum_i W[o, i] * x[t, i]
// W is [n_in, n_out] in GGUF order (n_out rows of n_in elements, any type
// tensor/ can read). Quantized weights use llama.cpp's numerics on purpose:
// activations are quantized once per row to the weight type's partner format
// (Q8_0 for Q4_0/Q5_0/Q8_0, Q8_1 for Q4_1/Q5_1, Q8_K for K-quants) and dotted
// in integers, so greedy outputs track llama.cpp's. F32/F16/BF16 weights are
// dotted against float32 activations.
#pragma once

#include <cstdint>
#include <span>

#include "common/result.h"
#include "common/thread_pool.h"
#include "gguf/ggml_type.h"

namespace frugal::kernels {

// How a weight's bytes are ordered: as the file stores them (row after
// row), or repacked at load by pack_weight() (packed_q4_k.h).
enum class WeightLayout : uint8_t {
  kRows,     // row o at data + o * row_bytes
  kQ4K_x16,  // Q4_K, 16-row tiles; rows 16R.. start at data + 16R * row_bytes
};

struct WeightView {
  gguf::GgmlType type = gguf::GgmlType::F32;
  const uint8_t* data = nullptr;
  int64_t n_in = 0;   // elements per row
  int64_t n_out = 0;  // rows
  uint64_t row_bytes = 0;
  WeightLayout layout = WeightLayout::kRows;
};

struct KernelTable;  // kernels/cpu/dispatch.h

bool matmul_supported(gguf::GgmlType t);

// Checks what matmul()/get_row() rely on: a supported type, n_in a whole
// number of blocks (of 256 for K-quants), row_bytes equal to the type's row
// size, non-null data. Call once when a model is loaded; the hot calls below
// do not check again.
Status check_weight(const WeightView& w);

// The layout the active kernels decode `w` (a checked kRows weight) fastest
// from: kQ4K_x16 for Q4_K with n_out a multiple of 16 where the active table
// has a packed decode kernel, else kRows (nothing to do).
WeightLayout preferred_layout(const WeightView& w);
// Writes w's bytes in `layout` to dst (w.n_out * w.row_bytes bytes) and
// returns the view of them. Every matmul / get_row result on the returned
// view is the bits it is on w, with every kernel table. `pool` (optional)
// splits the rows between its threads.
Result<WeightView> pack_weight(const WeightView& w, WeightLayout layout, uint8_t* dst,
                               ThreadPool* pool = nullptr);

// x: [n_tokens, n_in] row-major floats; y: [n_tokens, n_out].
// Runs with active_kernels(). Each activation row is quantized once to the
// weight type's partner format; output rows are split across the pool.
void matmul(const WeightView& w, const float* x, float* y, int64_t n_tokens, ThreadPool& pool);

// Same with an explicit kernel table (tests run every table the CPU supports).
void matmul_with(const KernelTable& kernels, const WeightView& w, const float* x, float* y,
                 int64_t n_tokens, ThreadPool& pool);

// One weight of matmul_many and its output y: [n_tokens, w->n_out].
struct MatmulOut {
  const WeightView* w;
  float* y;
};

// y_i = W_i x for several weights of one input (a layer's Q, K and V; gate
// and up): each y_i has the bits matmul() gives it, but x is quantized once
// per partner format, and below kGemmMinTokens tokens (decode) the weights'
// rows are split between the threads in one parallel region instead of one
// per weight. Every weight's n_in must be the same.
void matmul_many(std::span<const MatmulOut> outs, const float* x, int64_t n_tokens,
                 ThreadPool& pool);
void matmul_many_with(const KernelTable& kernels, std::span<const MatmulOut> outs, const float* x,
                      int64_t n_tokens, ThreadPool& pool);

// Copies row `row` of w, dequantized, to dst[0..n_in) (embedding lookup).
void get_row(const WeightView& w, int64_t row, float* dst);

}  // namespace frugal::kernels
