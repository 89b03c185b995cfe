#include "kernels/cpu/dispatch.h"

#include "kernels/cpu/ref/vec_dot_ref.h"
#include "tensor/quant_rows.h"

namespace frugal::kernels {
namespace {

using gguf::GgmlType;

KernelTable make_ref_table() {
  KernelTable t;
  t.isa = "ref";
  auto set = [&t](GgmlType w, GgmlType act, QuantizeActFn q, VecDotFn dot) {
    t.by_type[static_cast<uint32_t>(w)] = DotKernel{act, q, dot};
  };
  set(GgmlType::F32, GgmlType::F32, nullptr, ref::dot_f32_f32);
  set(GgmlType::F16, GgmlType::F32, nullptr, ref::dot_f16_f32);
  set(GgmlType::BF16, GgmlType::F32, nullptr, ref::dot_bf16_f32);
  set(GgmlType::Q4_0, GgmlType::Q8_0, tensor::quantize_row_q8_0, ref::dot_q4_0_q8_0);
  set(GgmlType::Q5_0, GgmlType::Q8_0, tensor::quantize_row_q8_0, ref::dot_q5_0_q8_0);
  set(GgmlType::Q8_0, GgmlType::Q8_0, tensor::quantize_row_q8_0, ref::dot_q8_0_q8_0);
  set(GgmlType::Q4_1, GgmlType::Q8_1, tensor::quantize_row_q8_1, ref::dot_q4_1_q8_1);
  set(GgmlType::Q5_1, GgmlType::Q8_1, tensor::quantize_row_q8_1, ref::dot_q5_1_q8_1);
  set(GgmlType::Q2_K, GgmlType::Q8_K, tensor::quantize_row_q8_k, ref::dot_q2_k_q8_k);
  set(GgmlType::Q3_K, GgmlType::Q8_K, tensor::quantize_row_q8_k, ref::dot_q3_k_q8_k);
  set(GgmlType::Q4_K, GgmlType::Q8_K, tensor::quantize_row_q8_k, ref::dot_q4_k_q8_k);
  set(GgmlType::Q5_K, GgmlType::Q8_K, tensor::quantize_row_q8_k, ref::dot_q5_k_q8_k);
  set(GgmlType::Q6_K, GgmlType::Q8_K, tensor::quantize_row_q8_k, ref::dot_q6_k_q8_k);
  return t;
}

}  // namespace

const KernelTable& ref_kernels() {
  static const KernelTable table = make_ref_table();
  return table;
}

const KernelTable& active_kernels() {
  return ref_kernels();
}

std::span<const KernelTable* const> available_kernels() {
  static const KernelTable* const tables[] = {&ref_kernels()};
  return tables;
}

}  // namespace frugal::kernels
