// The AArch64 kernel tables: "neon" (every AArch64 CPU) and "neon-dotprod"
// (CPUs with SDOT). Same contract as the AVX2 table (x86/avx2.h): the
// activation bytes of the reference quantizers, the same integer sums per
// block, only the order of float accumulation differs; each table's tile
// kernels give, per token, the bits of its own dot.
#pragma once

#include "kernels/cpu/dispatch.h"

namespace frugal::kernels::neon {

// True on AArch64 builds running on a CPU with NEON / with NEON and SDOT.
bool supported();
bool dotprod_supported();

// `ref` with every type that has a NEON kernel replaced. Call only when
// supported() / dotprod_supported() is true.
KernelTable make_table(const KernelTable& ref);
KernelTable make_dotprod_table(const KernelTable& ref);

// Per file: neon_dot.cpp (baseline Armv8-A) and neon_dotprod.cpp (compiled
// for Armv8.2-A + dotprod) each put their instantiation of neon_kernels.h
// into a table.
void fill_baseline(KernelTable& t);
void fill_dotprod(KernelTable& t);

// neon_quantize.cpp: the activation quantizers (Q8_0, Q8_1, Q8_K) of both
// tables, byte for byte the reference ones.
void fill_quantizers(KernelTable& t);

}  // namespace frugal::kernels::neon
