#include "kernels/cpu/arm/cpu_features.h"

#include <sys/auxv.h>

namespace frugal::kernels::arm {
namespace {

// Bit positions from the Linux AArch64 hwcap ABI (asm/hwcap.h), spelled out
// so the build does not depend on which kernel headers are installed.
constexpr unsigned long kHwcapAsimd = 1ul << 1;
constexpr unsigned long kHwcapAsimdDp = 1ul << 20;

CpuFeatures detect() {
  CpuFeatures f;
  const unsigned long hw = getauxval(AT_HWCAP);
  f.neon = (hw & kHwcapAsimd) != 0;
  f.dotprod = f.neon && (hw & kHwcapAsimdDp) != 0;
  return f;
}

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = detect();
  return f;
}

}  // namespace frugal::kernels::arm
