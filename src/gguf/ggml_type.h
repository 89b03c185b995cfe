// Tensor element types as numbered in GGUF files (the numbering and block
// layouts are facts of the format, fixed by llama.cpp's ggml). This table is
// part of the file format, which is why it lives in gguf/: the reader needs the
// block sizes to validate each tensor's byte size against the file.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace frugal::gguf {

enum class GgmlType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  IQ4_NL = 20,
  IQ4_XS = 23,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  BF16 = 30,
};

struct TypeTraits {
  std::string_view name;
  uint32_t block_size;  // elements per block
  uint32_t type_size;   // bytes per block
};

// Traits of a known type, or nullopt for a type id this build does not know
// (the reader rejects such tensors with an error naming the id).
std::optional<TypeTraits> type_traits(GgmlType t);
std::optional<TypeTraits> type_traits(uint32_t raw);
std::string_view type_name(GgmlType t);

// Bytes of one row of `n` elements; nullopt if n is not a whole number of
// blocks or the size overflows.
std::optional<uint64_t> row_size(GgmlType t, uint64_t n);

}  // namespace frugal::gguf
