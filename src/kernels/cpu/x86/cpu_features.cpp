// cpuid leaf 1 (ECX: FMA bit 12, OSXSAVE 27, AVX 28, F16C 29), leaf 7 subleaf 0
// (EBX: AVX2 bit 5; the VNNI bits below) and XCR0 bits 1-2 (the OS saves XMM and YMM registers):
// facts from the Intel SDM. A CPU may report AVX while the OS does not save
// YMM state; such a CPU must be treated as having none of the AVX family.
#include "kernels/cpu/x86/cpu_features.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

#include <cstdint>
#endif

namespace frugal::kernels::x86 {

CpuFeatures detect_cpu_features() {
  CpuFeatures f;
#if defined(__x86_64__) || defined(__i386__)
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid(1, &eax, &ebx, &ecx, &edx) == 0) return f;
  const bool osxsave = (ecx >> 27) & 1u;
  const bool cpu_avx = (ecx >> 28) & 1u;
  if (!osxsave || !cpu_avx) return f;
  uint32_t xcr0_lo = 0, xcr0_hi = 0;
  __asm__ volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
  if ((xcr0_lo & 0x6u) != 0x6u) return f;  // XMM (bit 1) and YMM (bit 2) state
  f.avx = true;
  f.fma = (ecx >> 12) & 1u;
  f.f16c = (ecx >> 29) & 1u;
  if (__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) == 0) return f;
  const unsigned max_subleaf = eax;
  f.avx2 = (ebx >> 5) & 1u;
  // AVX512F (EBX bit 16), AVX512BW (EBX 30), AVX512VL (EBX 31), AVX512_VNNI
  // (ECX 11); XCR0 bits 5-7: opmask, upper halves of ZMM0-15, ZMM16-31.
  f.avx512_vnni = ((ebx >> 16) & 1u) && ((ebx >> 30) & 1u) && ((ebx >> 31) & 1u) &&
                  ((ecx >> 11) & 1u) && (xcr0_lo & 0xE0u) == 0xE0u;
  // AVX-VNNI: leaf 7 subleaf 1, EAX bit 4.
  if (max_subleaf >= 1 && __get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx) != 0)
    f.avx_vnni = (eax >> 4) & 1u;
#endif
  return f;
}

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = detect_cpu_features();
  return features;
}

}  // namespace frugal::kernels::x86
