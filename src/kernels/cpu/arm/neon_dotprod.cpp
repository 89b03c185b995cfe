// The "neon-dotprod" table's kernels: neon_kernels.h with SDOT (4 8-bit
// products summed into each 32-bit lane in one instruction). Compiled with
// -march=armv8.2-a+dotprod (CMakeLists.txt): only run once
// cpu_features().dotprod says the CPU has it.
#include <arm_neon.h>

#include "kernels/cpu/arm/neon_kernels.h"
#include "kernels/cpu/arm/neon_table.h"

namespace frugal::kernels::neon {
namespace {

struct SdotDot {
  static int32x4_t dot(int32x4_t acc, int8x16_t a, int8x16_t b) { return vdotq_s32(acc, a, b); }
};

}  // namespace

void fill_dotprod(KernelTable& t) {
  fill<SdotDot>(t);
}

}  // namespace frugal::kernels::neon
