// The per-type kernel table matmul() runs through. Today it holds only the
// scalar reference kernels (kernels/cpu/ref); ISA variants (AVX2, AVX-512 …)
// will add tables of the same shape, and active_kernels() will pick one from
// cpuid once at start-up. Tests loop over every table in available_kernels().
#pragma once

#include <cstdint>
#include <span>

#include "gguf/ggml_type.h"

namespace frugal::kernels {

// Dot of one weight row (n elements) against one activation row already in
// `act_type` format.
using VecDotFn = float (*)(const void* w_row, const void* act_row, int64_t n);
// Converts n float activations into `act_type` format (n a block multiple).
using QuantizeActFn = void (*)(const float* x, void* dst, int64_t n);

struct DotKernel {
  gguf::GgmlType act_type = gguf::GgmlType::F32;  // F32: activations used as they are
  QuantizeActFn quantize_act = nullptr;           // null when act_type is F32
  VecDotFn dot = nullptr;                         // null: weight type not supported
};

inline constexpr int kKernelTypeSlots = 32;  // covers every GgmlType id we know

struct KernelTable {
  const char* isa = "ref";
  DotKernel by_type[kKernelTypeSlots];

  const DotKernel* find(gguf::GgmlType t) const {
    const auto i = static_cast<uint32_t>(t);
    if (i >= kKernelTypeSlots || by_type[i].dot == nullptr) return nullptr;
    return &by_type[i];
  }
};

const KernelTable& ref_kernels();
// The table chosen for this CPU (the reference one until SIMD tables exist).
const KernelTable& active_kernels();
// Every table this CPU can run, reference first.
std::span<const KernelTable* const> available_kernels();

}  // namespace frugal::kernels
