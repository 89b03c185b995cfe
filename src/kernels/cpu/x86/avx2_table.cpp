// Builds the "avx2" KernelTable. Compiled with baseline flags on purpose: the
// table is assembled (and supported() asked) before anyone knows the CPU has
// AVX2, so nothing in this file may execute an AVX instruction. Compiled on
// x86-64 only (CMakeLists.txt).
#include "kernels/cpu/x86/avx2_table.h"

#include "kernels/cpu/x86/avx2.h"
#include "kernels/cpu/x86/cpu_features.h"

namespace frugal::kernels {

bool avx2::supported() {
  const x86::CpuFeatures& f = x86::cpu_features();
  return f.avx && f.avx2 && f.fma && f.f16c;
}

KernelTable make_avx2_table(const KernelTable& ref) {
  using gguf::GgmlType;
  KernelTable t = ref;  // types without an AVX2 kernel keep the reference one
  t.isa = "avx2";
  auto set = [&t](GgmlType w, QuantizeActFn q, VecDotFn dot, VecDotTileFn tile) {
    DotKernel& k = t.by_type[static_cast<uint32_t>(w)];
    if (q != nullptr) k.quantize_act = q;
    k.dot = dot;
    k.dot_tile = tile;
  };
  set(GgmlType::F32, nullptr, avx2::dot_f32_f32, avx2::tile_f32_f32);
  set(GgmlType::F16, nullptr, avx2::dot_f16_f32, avx2::tile_f16_f32);
  set(GgmlType::BF16, nullptr, avx2::dot_bf16_f32, avx2::tile_bf16_f32);
  set(GgmlType::Q4_0, avx2::quantize_row_q8_0, avx2::dot_q4_0_q8_0, avx2::tile_q4_0_q8_0);
  set(GgmlType::Q5_0, avx2::quantize_row_q8_0, avx2::dot_q5_0_q8_0, avx2::tile_q5_0_q8_0);
  set(GgmlType::Q8_0, avx2::quantize_row_q8_0, avx2::dot_q8_0_q8_0, avx2::tile_q8_0_q8_0);
  set(GgmlType::Q4_1, avx2::quantize_row_q8_1, avx2::dot_q4_1_q8_1, avx2::tile_q4_1_q8_1);
  set(GgmlType::Q4_K, avx2::quantize_row_q8_k, avx2::dot_q4_k_q8_k, avx2::tile_q4_k_q8_k);
  set(GgmlType::Q5_K, avx2::quantize_row_q8_k, avx2::dot_q5_k_q8_k, avx2::tile_q5_k_q8_k);
  set(GgmlType::Q6_K, avx2::quantize_row_q8_k, avx2::dot_q6_k_q8_k, avx2::tile_q6_k_q8_k);
  auto block = [&t](GgmlType w, VecDotBlockFn f) {
    t.by_type[static_cast<uint32_t>(w)].dot_block = f;
  };
  block(GgmlType::Q4_0, avx2::block_q4_0_q8_0);
  block(GgmlType::Q5_0, avx2::block_q5_0_q8_0);
  block(GgmlType::Q8_0, avx2::block_q8_0_q8_0);
  block(GgmlType::Q4_1, avx2::block_q4_1_q8_1);
  block(GgmlType::Q4_K, avx2::block_q4_k_q8_k);
  block(GgmlType::Q5_K, avx2::block_q5_k_q8_k);
  block(GgmlType::Q6_K, avx2::block_q6_k_q8_k);
  t.by_type[static_cast<uint32_t>(GgmlType::Q4_0)].gemm = &avx2::gemm_q4_0_q8_0;
  t.by_type[static_cast<uint32_t>(GgmlType::Q4_K)].gemm = &avx2::gemm_q4_k_q8_k;
  t.by_type[static_cast<uint32_t>(GgmlType::Q8_0)].gemm = &avx2::gemm_q8_0_q8_0;
  t.by_type[static_cast<uint32_t>(GgmlType::Q5_0)].gemm = &avx2::gemm_q5_0_q8_0;
  // Q5_1, Q2_K, Q3_K: reference dots, AVX2 activation quantizers (same bytes).
  t.by_type[static_cast<uint32_t>(GgmlType::Q5_1)].quantize_act = avx2::quantize_row_q8_1;
  t.by_type[static_cast<uint32_t>(GgmlType::Q2_K)].quantize_act = avx2::quantize_row_q8_k;
  t.by_type[static_cast<uint32_t>(GgmlType::Q3_K)].quantize_act = avx2::quantize_row_q8_k;
  t.attend = avx2::attend;
  t.attend_group = avx2::attend_group;
  t.swiglu = avx2::swiglu;
  return t;
}

}  // namespace frugal::kernels
