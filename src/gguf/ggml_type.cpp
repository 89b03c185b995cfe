#include "gguf/ggml_type.h"

#include "common/checked_math.h"

namespace frugal::gguf {

std::optional<TypeTraits> type_traits(GgmlType t) {
  switch (t) {
    case GgmlType::F32: return TypeTraits{"F32", 1, 4};
    case GgmlType::F16: return TypeTraits{"F16", 1, 2};
    case GgmlType::BF16: return TypeTraits{"BF16", 1, 2};
    case GgmlType::F64: return TypeTraits{"F64", 1, 8};
    case GgmlType::I8: return TypeTraits{"I8", 1, 1};
    case GgmlType::I16: return TypeTraits{"I16", 1, 2};
    case GgmlType::I32: return TypeTraits{"I32", 1, 4};
    case GgmlType::I64: return TypeTraits{"I64", 1, 8};
    // 32-element blocks: f16 scale (+ f16 min/sum) + packed quants.
    case GgmlType::Q4_0: return TypeTraits{"Q4_0", 32, 2 + 16};
    case GgmlType::Q4_1: return TypeTraits{"Q4_1", 32, 2 + 2 + 16};
    case GgmlType::Q5_0: return TypeTraits{"Q5_0", 32, 2 + 4 + 16};
    case GgmlType::Q5_1: return TypeTraits{"Q5_1", 32, 2 + 2 + 4 + 16};
    case GgmlType::Q8_0: return TypeTraits{"Q8_0", 32, 2 + 32};
    case GgmlType::Q8_1: return TypeTraits{"Q8_1", 32, 2 + 2 + 32};
    case GgmlType::IQ4_NL: return TypeTraits{"IQ4_NL", 32, 2 + 16};
    // 256-element super-blocks.
    case GgmlType::Q2_K: return TypeTraits{"Q2_K", 256, 16 + 64 + 2 + 2};
    case GgmlType::Q3_K: return TypeTraits{"Q3_K", 256, 32 + 64 + 12 + 2};
    case GgmlType::Q4_K: return TypeTraits{"Q4_K", 256, 2 + 2 + 12 + 128};
    case GgmlType::Q5_K: return TypeTraits{"Q5_K", 256, 2 + 2 + 12 + 32 + 128};
    case GgmlType::Q6_K: return TypeTraits{"Q6_K", 256, 128 + 64 + 16 + 2};
    case GgmlType::Q8_K: return TypeTraits{"Q8_K", 256, 4 + 256 + 32};
    case GgmlType::IQ4_XS: return TypeTraits{"IQ4_XS", 256, 2 + 2 + 4 + 128};
  }
  return std::nullopt;
}

std::optional<TypeTraits> type_traits(uint32_t raw) {
  return type_traits(static_cast<GgmlType>(raw));
}

std::string_view type_name(GgmlType t) {
  auto tr = type_traits(t);
  return tr ? tr->name : std::string_view("unknown");
}

std::optional<uint64_t> row_size(GgmlType t, uint64_t n) {
  auto tr = type_traits(t);
  if (!tr || n % tr->block_size != 0) return std::nullopt;
  return checked_mul(n / tr->block_size, tr->type_size);
}

}  // namespace frugal::gguf
