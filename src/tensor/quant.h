// Block-quantized formats: dequantize and quantize rows. Bit-compatible with
// GGUF files in the wild (layouts are facts of the format). Scalar code here is
// the reference every SIMD kernel is tested against.
#pragma once

#include <cstdint>

#include "common/result.h"
#include "gguf/ggml_type.h"

namespace frugal::tensor {

bool can_dequantize(gguf::GgmlType t);
bool can_quantize(gguf::GgmlType t);

// dst[0..n) = values of the first n elements of src; n must be a multiple of
// the type's block size (checked; an error otherwise).
Status dequantize_row(gguf::GgmlType t, const void* src, float* dst, int64_t n);

// Quantizes n floats into blocks of `t` at dst (row_size(t, n) bytes).
Status quantize_row(gguf::GgmlType t, const float* src, void* dst, int64_t n);

}  // namespace frugal::tensor
