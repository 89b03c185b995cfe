// Scalar reference dot products: one weight row (n elements of the weight
// type) against one activation row already in the partner format. These are
// the numerics every SIMD variant is tested against (kernels/README.md).
#pragma once

#include <cstdint>

#include "kernels/cpu/attention.h"

namespace frugal::kernels::ref {

// Float weights against float32 activations.
float dot_f32_f32(const void* w, const void* x, int64_t n);
float dot_f16_f32(const void* w, const void* x, int64_t n);
float dot_bf16_f32(const void* w, const void* x, int64_t n);

// Legacy 32-element blocks: integer sums per block, scaled in float.
float dot_q4_0_q8_0(const void* w, const void* a, int64_t n);
float dot_q5_0_q8_0(const void* w, const void* a, int64_t n);
float dot_q8_0_q8_0(const void* w, const void* a, int64_t n);
float dot_q4_1_q8_1(const void* w, const void* a, int64_t n);
float dot_q5_1_q8_1(const void* w, const void* a, int64_t n);

// K-quants against Q8_K (n a multiple of 256).
float dot_q2_k_q8_k(const void* w, const void* a, int64_t n);
float dot_q3_k_q8_k(const void* w, const void* a, int64_t n);
float dot_q4_k_q8_k(const void* w, const void* a, int64_t n);
float dot_q5_k_q8_k(const void* w, const void* a, int64_t n);
float dot_q6_k_q8_k(const void* w, const void* a, int64_t n);

// attend() and swiglu() in scalar code (attention_ref.cpp).
void attend(const AttendArgs& a);
void attend_group(const AttendGroupArgs& g);
void swiglu(const float* gate, const float* up, float* out, int64_t n);

}  // namespace frugal::kernels::ref
