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
  // 256-bit VPDPBUSD / VPDPWSSD: EVEX-encoded (AVX512F + VL + VNNI, the OS
  // saving opmask and ZMM state) or VEX-encoded (AVX-VNNI). avx512_vnni also
  // requires AVX512BW (byte and word ops on ZMM), which the avx512-vnni
  // build's 512-bit decode kernels use; every CPU with AVX512-VNNI has it.
  bool avx512_vnni = false;
  bool avx_vnni = false;
};

// Detected on first call, then cached.
const CpuFeatures& cpu_features();

// Reads the CPU afresh (cpu_features() caches its result); the emulated-CPU
// test runs it on emulated CPU models (tests/emulated/).
CpuFeatures detect_cpu_features();

}  // namespace frugal::kernels::x86
