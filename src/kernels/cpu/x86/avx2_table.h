// The AVX2 kernel table (x86-64 with AVX2, FMA and F16C); see avx2.h.
#pragma once

#include "kernels/cpu/dispatch.h"

namespace frugal::kernels {

// `ref` with every type that has an AVX2 kernel replaced. Call only when
// avx2::supported() (kernels/cpu/x86/avx2.h) is true.
KernelTable make_avx2_table(const KernelTable& ref);

}  // namespace frugal::kernels
