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

#include "common/result.h"
#include "common/thread_pool.h"
#include "gguf/ggml_type.h"

namespace frugal::kernels {

struct WeightView {
  gguf::GgmlType type = gguf::GgmlType::F32;
  const uint8_t* data = nullptr;
  int64_t n_in = 0;    // elements per row
  int64_t n_out = 0;   // rows
  uint64_t row_bytes = 0;
};

bool matmul_supported(gguf::GgmlType t);

// x: [n_tokens, n_in] row-major floats; y: [n_tokens, n_out].
void matmul(const WeightView& w, const float* x, float* y, int64_t n_tokens, ThreadPool& pool);

// Copies row `row` of w, dequantized, to dst[0..n_in) (embedding lookup).
void get_row(const WeightView& w, int64_t row, float* dst);

}  // namespace frugal::kernels
