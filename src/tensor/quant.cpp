// Dispatcher from a GGUF type id to the per-type row functions, with the
// size checks the public API promises.
#include "tensor/quant.h"

#include "tensor/quant_rows.h"

namespace frugal::tensor {
namespace {

using DequantFn = void (*)(const void*, float*, int64_t);
using QuantFn = void (*)(const float*, void*, int64_t);

void dequantize_row_f32(const void* src, float* dst, int64_t n) {
  std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
}

void quantize_row_f32(const float* src, void* dst, int64_t n) {
  std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
}

DequantFn dequant_fn(gguf::GgmlType t) {
  using gguf::GgmlType;
  switch (t) {
    case GgmlType::F32:
      return dequantize_row_f32;
    case GgmlType::F16:
      return dequantize_row_f16;
    case GgmlType::BF16:
      return dequantize_row_bf16;
    case GgmlType::Q4_0:
      return dequantize_row_q4_0;
    case GgmlType::Q4_1:
      return dequantize_row_q4_1;
    case GgmlType::Q5_0:
      return dequantize_row_q5_0;
    case GgmlType::Q5_1:
      return dequantize_row_q5_1;
    case GgmlType::Q8_0:
      return dequantize_row_q8_0;
    case GgmlType::Q8_1:
      return dequantize_row_q8_1;
    case GgmlType::Q2_K:
      return dequantize_row_q2_k;
    case GgmlType::Q3_K:
      return dequantize_row_q3_k;
    case GgmlType::Q4_K:
      return dequantize_row_q4_k;
    case GgmlType::Q5_K:
      return dequantize_row_q5_k;
    case GgmlType::Q6_K:
      return dequantize_row_q6_k;
    case GgmlType::Q8_K:
      return dequantize_row_q8_k;
    default:
      return nullptr;
  }
}

QuantFn quant_fn(gguf::GgmlType t) {
  using gguf::GgmlType;
  switch (t) {
    case GgmlType::F32:
      return quantize_row_f32;
    case GgmlType::F16:
      return quantize_row_f16;
    case GgmlType::BF16:
      return quantize_row_bf16;
    case GgmlType::Q4_0:
      return quantize_row_q4_0;
    case GgmlType::Q4_1:
      return quantize_row_q4_1;
    case GgmlType::Q5_0:
      return quantize_row_q5_0;
    case GgmlType::Q5_1:
      return quantize_row_q5_1;
    case GgmlType::Q8_0:
      return quantize_row_q8_0;
    case GgmlType::Q8_1:
      return quantize_row_q8_1;
    case GgmlType::Q4_K:
      return quantize_row_q4_k;
    case GgmlType::Q6_K:
      return quantize_row_q6_k;
    case GgmlType::Q8_K:
      return quantize_row_q8_k;
    default:
      return nullptr;
  }
}

Status check_count(gguf::GgmlType t, int64_t n) {
  auto tr = gguf::type_traits(t);
  if (!tr) return make_error("tensor type id {}: unknown", static_cast<uint32_t>(t));
  if (n < 0 || n % tr->block_size != 0) {
    return make_error("element count {}: not a whole number of {} blocks of {}", n, tr->name,
                      tr->block_size);
  }
  return {};
}

}  // namespace

bool can_dequantize(gguf::GgmlType t) {
  return dequant_fn(t) != nullptr;
}
bool can_quantize(gguf::GgmlType t) {
  return quant_fn(t) != nullptr;
}

Status dequantize_row(gguf::GgmlType t, const void* src, float* dst, int64_t n) {
  const DequantFn fn = dequant_fn(t);
  if (!fn) return make_error("tensor type {}: dequantize not supported", gguf::type_name(t));
  FRUGAL_TRY(check_count(t, n));
  fn(src, dst, n);
  return {};
}

Status quantize_row(gguf::GgmlType t, const float* src, void* dst, int64_t n) {
  const QuantFn fn = quant_fn(t);
  if (!fn) return make_error("tensor type {}: quantize not supported", gguf::type_name(t));
  FRUGAL_TRY(check_count(t, n));
  fn(src, dst, n);
  return {};
}

}  // namespace frugal::tensor
