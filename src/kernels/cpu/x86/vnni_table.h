// The VNNI kernel tables (x86-64): the AVX2 table with the kernels whose
// integer dot steps VPDPBUSD / VPDPWSSD shorten, built again with them
// (avx2.h). "avx512-vnni": AVX512F + VL + VNNI, 256-bit EVEX forms (Ice Lake,
// Sapphire Rapids, Zen 4 on); "avx-vnni": the VEX forms (Alder Lake on, Zen 5).
// Results are the AVX2 table's, bit for bit.
#pragma once

#include "kernels/cpu/dispatch.h"

namespace frugal::kernels {

bool avx512_vnni_supported();
bool avx_vnni_supported();

// `avx2` (make_avx2_table's result) with the VNNI builds' kernels in place.
// Call only when the matching *_supported() is true.
KernelTable make_avx512_vnni_table(const KernelTable& avx2);
KernelTable make_avx_vnni_table(const KernelTable& avx2);

}  // namespace frugal::kernels
