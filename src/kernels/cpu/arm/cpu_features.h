// What the AArch64 CPU we run on can execute, read once from the kernel's
// hwcaps (getauxval). NEON (Advanced SIMD) is part of every AArch64 CPU; the
// 8-bit dot product (SDOT, Armv8.2-A "dotprod") is optional: Cortex-A76 and
// later, Neoverse N1 and later, Apple M1 and later have it, Cortex-A72
// (Raspberry Pi 4) does not. Only compiled for AArch64 builds.
#pragma once

namespace frugal::kernels::arm {

struct CpuFeatures {
  bool neon = false;     // HWCAP_ASIMD
  bool dotprod = false;  // HWCAP_ASIMDDP
};

// Detected on first call, then cached.
const CpuFeatures& cpu_features();

}  // namespace frugal::kernels::arm
