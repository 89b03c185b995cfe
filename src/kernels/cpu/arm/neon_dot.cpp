// The baseline NEON table's kernels: neon_kernels.h with 8-bit products
// widened by SMULL and pair-added into 32-bit lanes (SADALP), which every
// Armv8-A CPU has.
#include <arm_neon.h>

#include "kernels/cpu/arm/neon_kernels.h"
#include "kernels/cpu/arm/neon_table.h"

namespace frugal::kernels::neon {
namespace {

struct WidenDot {
  // acc[i] += sum of a[4i..4i+3] * b[4i..4i+3] (lanes of one 16-byte block
  // may be summed in another order than SDOT's; the lane total is the same).
  static int32x4_t dot(int32x4_t acc, int8x16_t a, int8x16_t b) {
    acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(a), vget_low_s8(b)));
    return vpadalq_s16(acc, vmull_high_s8(a, b));
  }
};

}  // namespace

void fill_baseline(KernelTable& t) {
  fill<WidenDot>(t);
}

}  // namespace frugal::kernels::neon
