// The AVX2+FMA+F16C kernels. Each avx2_*.cpp file is compiled with
// -mavx2 -mfma -mf16c (CMakeLists.txt) and must only be called once
// cpu_features() says the CPU has all three; avx2_table.cpp (baseline flags)
// builds the table that dispatch.cpp hands out.
//
// Every function has the semantics of its cpu/ref twin: the same activation
// bytes (quantizers are byte-identical to tensor/'s), the same integer sums
// per block; only the order of float accumulation differs.
//
// Tile functions: y[t * y_stride] = dot(w_row, act + t * act_row_bytes) for
// t < n_tokens (1..kDotTile), the weight row decoded once for all tokens.
#pragma once

#include <cstdint>

#include "kernels/cpu/attention.h"
#include "kernels/cpu/dispatch.h"
#include "kernels/cpu/x86/cpu_features.h"

namespace frugal::kernels::avx2 {

// True when this build has the AVX2 kernels (x86) and the CPU can run them.
bool supported();

float dot_f32_f32(const void* w, const void* x, int64_t n);
float dot_f16_f32(const void* w, const void* x, int64_t n);
float dot_bf16_f32(const void* w, const void* x, int64_t n);
void tile_f32_f32(const void* w, const void* x, uint64_t stride, int64_t n, int nt, float* y,
                  int64_t ys);
void tile_f16_f32(const void* w, const void* x, uint64_t stride, int64_t n, int nt, float* y,
                  int64_t ys);
void tile_bf16_f32(const void* w, const void* x, uint64_t stride, int64_t n, int nt, float* y,
                   int64_t ys);

float dot_q4_0_q8_0(const void* w, const void* a, int64_t n);
float dot_q5_0_q8_0(const void* w, const void* a, int64_t n);
float dot_q8_0_q8_0(const void* w, const void* a, int64_t n);
float dot_q4_1_q8_1(const void* w, const void* a, int64_t n);
void tile_q4_0_q8_0(const void* w, const void* a, uint64_t stride, int64_t n, int nt, float* y,
                    int64_t ys);
void tile_q5_0_q8_0(const void* w, const void* a, uint64_t stride, int64_t n, int nt, float* y,
                    int64_t ys);
void tile_q8_0_q8_0(const void* w, const void* a, uint64_t stride, int64_t n, int nt, float* y,
                    int64_t ys);
void tile_q4_1_q8_1(const void* w, const void* a, uint64_t stride, int64_t n, int nt, float* y,
                    int64_t ys);

float dot_q4_k_q8_k(const void* w, const void* a, int64_t n);
float dot_q5_k_q8_k(const void* w, const void* a, int64_t n);
float dot_q6_k_q8_k(const void* w, const void* a, int64_t n);
void tile_q4_k_q8_k(const void* w, const void* a, uint64_t stride, int64_t n, int nt, float* y,
                    int64_t ys);
void tile_q5_k_q8_k(const void* w, const void* a, uint64_t stride, int64_t n, int nt, float* y,
                    int64_t ys);
void tile_q6_k_q8_k(const void* w, const void* a, uint64_t stride, int64_t n, int nt, float* y,
                    int64_t ys);

// Block functions (VecDotBlockFn, dispatch.h): n_rows (>= 1) weight
// rows w + r * w_stride times n_tokens (1..kDotTile) activation rows, each
// result the bits `dot` gives for that row and token.
#define FRUGAL_AVX2_DECLARE_BLOCK(name)                                                   \
  void name(const void* w, uint64_t w_stride, int n_rows, const void* a, uint64_t stride, \
            int64_t n, int n_tokens, float* y, int64_t ys)
FRUGAL_AVX2_DECLARE_BLOCK(block_q4_0_q8_0);
FRUGAL_AVX2_DECLARE_BLOCK(block_q5_0_q8_0);
FRUGAL_AVX2_DECLARE_BLOCK(block_q8_0_q8_0);
FRUGAL_AVX2_DECLARE_BLOCK(block_q4_1_q8_1);
FRUGAL_AVX2_DECLARE_BLOCK(block_q4_k_q8_k);
FRUGAL_AVX2_DECLARE_BLOCK(block_q5_k_q8_k);
FRUGAL_AVX2_DECLARE_BLOCK(block_q6_k_q8_k);
#undef FRUGAL_AVX2_DECLARE_BLOCK

// Prefill GEMMs (GemmKernel, dispatch.h; avx2_gemm.cpp, avx2_gemm_q8_0.cpp):
// results the bits of dot_q4_0_q8_0 / dot_q4_k_q8_k / dot_q8_0_q8_0.
extern const GemmKernel gemm_q4_0_q8_0;
extern const GemmKernel gemm_q4_k_q8_k;
extern const GemmKernel gemm_q8_0_q8_0;

// Activation quantizers, byte-identical to tensor::quantize_act_q8_{0,1} and
// tensor::quantize_row_q8_k.
void quantize_row_q8_0(const float* x, void* dst, int64_t n);
void quantize_row_q8_1(const float* x, void* dst, int64_t n);
void quantize_row_q8_k(const float* x, void* dst, int64_t n);

// Twins of ref::attend / ref::swiglu (kernels/cpu/attention.h), same bits.
void attend(const AttendArgs& a);
void attend_group(const AttendGroupArgs& g);
void swiglu(const float* gate, const float* up, float* out, int64_t n);

}  // namespace frugal::kernels::avx2
