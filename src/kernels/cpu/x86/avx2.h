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
// VNNI builds (CMakeLists.txt compiles avx2_dot_legacy.cpp, avx2_dot_q4_0.cpp,
// avx2_dot_q4_k.cpp and avx2_gemm_q8_0.cpp again with the VNNI extension on and
// FRUGAL_X86_NS set to avx512vnni or avxvnni) put the same functions in that
// namespace; vnni_table.cpp builds their tables.
#pragma once

#include <cstdint>

#include "kernels/cpu/attention.h"
#include "kernels/cpu/dispatch.h"
#include "kernels/cpu/x86/cpu_features.h"

#ifndef FRUGAL_X86_NS
#define FRUGAL_X86_NS avx2
#endif

namespace frugal::kernels::avx2 {
// True when this build has the AVX2 kernels (x86) and the CPU can run them.
bool supported();
}  // namespace frugal::kernels::avx2

namespace frugal::kernels::FRUGAL_X86_NS {
#include "kernels/cpu/x86/x86_kernel_decls.inc"

}  // namespace frugal::kernels::FRUGAL_X86_NS
