// What the CPU we run on can execute, read once from cpuid (and xgetbv for the
// operating system's consent to save the wide registers). Compiled for
// baseline x86-64, so it is safe to call on any CPU; on other architectures
// every flag is false.
#pragma once

namespace frugal::kernels::x86 {

struct CpuFeatures {
  bool avx = false;  // CPU has AVX and the OS saves YMM state
  bool avx2 = false;
  bool fma = false;
  bool f16c = false;
};

// Detected on first call, then cached.
const CpuFeatures& cpu_features();

}  // namespace frugal::kernels::x86
