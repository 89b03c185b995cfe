// Builds the AArch64 tables. Baseline flags: nothing here executes an SDOT.
#include "kernels/cpu/arm/neon_table.h"

#include "kernels/cpu/arm/cpu_features.h"

namespace frugal::kernels::neon {

bool supported() {
  return arm::cpu_features().neon;
}

bool dotprod_supported() {
  return arm::cpu_features().dotprod;
}

KernelTable make_table(const KernelTable& ref) {
  KernelTable t = ref;  // types without a NEON kernel keep the reference one
  t.isa = "neon";
  fill_baseline(t);
  return t;
}

KernelTable make_dotprod_table(const KernelTable& ref) {
  KernelTable t = ref;
  t.isa = "neon-dotprod";
  fill_dotprod(t);
  return t;
}

}  // namespace frugal::kernels::neon
