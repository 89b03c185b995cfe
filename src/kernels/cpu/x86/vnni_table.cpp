// Builds the VNNI KernelTables. Compiled with baseline flags on purpose, like
// avx2_table.cpp: the tables are assembled before anyone knows the CPU has
// the instructions. Compiled on x86-64 only (CMakeLists.txt).
#include "kernels/cpu/x86/vnni_table.h"

#include <cstdint>

#include "kernels/cpu/x86/avx2.h"
#include "kernels/cpu/x86/cpu_features.h"

// The VNNI builds' functions (CMakeLists.txt: the same avx2_*.cpp sources
// with FRUGAL_X86_NS set to these namespaces).
namespace frugal::kernels::avx512vnni {
#include "kernels/cpu/x86/x86_kernel_decls.inc"
}  // namespace frugal::kernels::avx512vnni
namespace frugal::kernels::avxvnni {
#include "kernels/cpu/x86/x86_kernel_decls.inc"
}  // namespace frugal::kernels::avxvnni

namespace frugal::kernels {
namespace {

using gguf::GgmlType;

// The kernels one VNNI build replaces: those of the six source files it
// compiles (legacy dots, Q4_0, Q4_K, Q5_K and Q6_K, the GEMMs).
struct VnniKernels {
  const char* isa;
  VecDotFn dot_q4_0, dot_q5_0, dot_q8_0, dot_q4_1, dot_q4_k, dot_q5_k, dot_q6_k;
  VecDotTileFn tile_q4_0, tile_q5_0, tile_q8_0, tile_q4_1, tile_q4_k, tile_q5_k, tile_q6_k;
  VecDotBlockFn block_q4_0, block_q5_0, block_q8_0, block_q4_1, block_q4_k, block_q5_k, block_q6_k;
  const GemmKernel *gemm_q4_0, *gemm_q4_k, *gemm_q8_0, *gemm_q5_0;
};

#define FRUGAL_VNNI_KERNELS(ns, name)                                                       \
  VnniKernels {                                                                             \
    name, ns::dot_q4_0_q8_0, ns::dot_q5_0_q8_0, ns::dot_q8_0_q8_0, ns::dot_q4_1_q8_1,       \
        ns::dot_q4_k_q8_k, ns::dot_q5_k_q8_k, ns::dot_q6_k_q8_k, ns::tile_q4_0_q8_0,        \
        ns::tile_q5_0_q8_0, ns::tile_q8_0_q8_0, ns::tile_q4_1_q8_1, ns::tile_q4_k_q8_k,     \
        ns::tile_q5_k_q8_k, ns::tile_q6_k_q8_k, ns::block_q4_0_q8_0, ns::block_q5_0_q8_0,   \
        ns::block_q8_0_q8_0, ns::block_q4_1_q8_1, ns::block_q4_k_q8_k, ns::block_q5_k_q8_k, \
        ns::block_q6_k_q8_k, &ns::gemm_q4_0_q8_0, &ns::gemm_q4_k_q8_k, &ns::gemm_q8_0_q8_0, \
        &ns::gemm_q5_0_q8_0                                                                 \
  }

KernelTable make_table(const KernelTable& avx2, const VnniKernels& k) {
  KernelTable t = avx2;  // quantizers, other types, attention: the AVX2 ones
  t.isa = k.isa;
  auto set = [&t](GgmlType w, VecDotFn dot, VecDotTileFn tile, VecDotBlockFn block) {
    DotKernel& d = t.by_type[static_cast<uint32_t>(w)];
    d.dot = dot;
    d.dot_tile = tile;
    d.dot_block = block;
  };
  set(GgmlType::Q4_0, k.dot_q4_0, k.tile_q4_0, k.block_q4_0);
  set(GgmlType::Q5_0, k.dot_q5_0, k.tile_q5_0, k.block_q5_0);
  set(GgmlType::Q8_0, k.dot_q8_0, k.tile_q8_0, k.block_q8_0);
  set(GgmlType::Q4_1, k.dot_q4_1, k.tile_q4_1, k.block_q4_1);
  set(GgmlType::Q4_K, k.dot_q4_k, k.tile_q4_k, k.block_q4_k);
  set(GgmlType::Q5_K, k.dot_q5_k, k.tile_q5_k, k.block_q5_k);
  set(GgmlType::Q6_K, k.dot_q6_k, k.tile_q6_k, k.block_q6_k);
  t.by_type[static_cast<uint32_t>(GgmlType::Q4_0)].gemm = k.gemm_q4_0;
  t.by_type[static_cast<uint32_t>(GgmlType::Q4_K)].gemm = k.gemm_q4_k;
  t.by_type[static_cast<uint32_t>(GgmlType::Q8_0)].gemm = k.gemm_q8_0;
  t.by_type[static_cast<uint32_t>(GgmlType::Q5_0)].gemm = k.gemm_q5_0;
  return t;
}

}  // namespace

bool avx512_vnni_supported() {
  return avx2::supported() && x86::cpu_features().avx512_vnni;
}

bool avx_vnni_supported() {
  return avx2::supported() && x86::cpu_features().avx_vnni;
}

KernelTable make_avx512_vnni_table(const KernelTable& avx2) {
  KernelTable t = make_table(avx2, FRUGAL_VNNI_KERNELS(avx512vnni, "avx512-vnni"));
  t.by_type[static_cast<uint32_t>(GgmlType::Q4_K)].dot_packed = avx512vnni::block_q4_k_x16_q8_k;
  return t;
}

KernelTable make_avx_vnni_table(const KernelTable& avx2) {
  return make_table(avx2, FRUGAL_VNNI_KERNELS(avxvnni, "avx-vnni"));
}

}  // namespace frugal::kernels
