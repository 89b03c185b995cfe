// Per-type row functions behind tensor/quant.h's dispatcher, also called
// directly by kernels/ (which quantize activations in their hot loop and so
// skip the dispatcher's checks). `n` is always a whole number of blocks; the
// callers check it.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

namespace frugal::tensor {

// Round to nearest, ties to even, for |x| < 2^22: the result sits in the low
// mantissa bits once 1.5 * 2^23 is added. ggml rounds the K-quant and Q8_K
// codes this way (not with roundf), so we must too.
inline int nearest_int(float x) {
  const float v = x + 12582912.f;
  int32_t i;
  std::memcpy(&i, &v, 4);
  return (i & 0x007fffff) - 0x00400000;
}

void dequantize_row_f16(const void* src, float* dst, int64_t n);
void dequantize_row_bf16(const void* src, float* dst, int64_t n);
void dequantize_row_q4_0(const void* src, float* dst, int64_t n);
void dequantize_row_q4_1(const void* src, float* dst, int64_t n);
void dequantize_row_q5_0(const void* src, float* dst, int64_t n);
void dequantize_row_q5_1(const void* src, float* dst, int64_t n);
void dequantize_row_q8_0(const void* src, float* dst, int64_t n);
void dequantize_row_q8_1(const void* src, float* dst, int64_t n);
void dequantize_row_q2_k(const void* src, float* dst, int64_t n);
void dequantize_row_q3_k(const void* src, float* dst, int64_t n);
void dequantize_row_q4_k(const void* src, float* dst, int64_t n);
void dequantize_row_q5_k(const void* src, float* dst, int64_t n);
void dequantize_row_q6_k(const void* src, float* dst, int64_t n);
void dequantize_row_q8_k(const void* src, float* dst, int64_t n);

void quantize_row_f16(const float* src, void* dst, int64_t n);
void quantize_row_bf16(const float* src, void* dst, int64_t n);
void quantize_row_q4_0(const float* src, void* dst, int64_t n);
void quantize_row_q4_1(const float* src, void* dst, int64_t n);
void quantize_row_q5_0(const float* src, void* dst, int64_t n);
void quantize_row_q5_1(const float* src, void* dst, int64_t n);
void quantize_row_q8_0(const float* src, void* dst, int64_t n);
void quantize_row_q8_1(const float* src, void* dst, int64_t n);
void quantize_row_q4_k(const float* src, void* dst, int64_t n);
void quantize_row_q6_k(const float* src, void* dst, int64_t n);
void quantize_row_q8_k(const float* src, void* dst, int64_t n);

// Q8_0/Q8_1 as llama.cpp's x86 CPU backend quantizes matmul activations
// (ggml's AVX/AVX2 from_float), which is not ggml's scalar reference above:
// the codes are x * (127 / amax) rounded half to even, where the reference
// uses x * (1 / (amax / 127)) rounded half away from zero. The two disagree on
// a few codes per thousand activations, and those flips grow through the
// layers into logit differences of ~1 on small models, so the matmul kernels
// use these. d (and Q8_1's s) are the same in both.
void quantize_act_q8_0(const float* src, void* dst, int64_t n);
void quantize_act_q8_1(const float* src, void* dst, int64_t n);

}  // namespace frugal::tensor
