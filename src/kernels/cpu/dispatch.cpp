#include "kernels/cpu/dispatch.h"

#include <atomic>
#include <string>

#include "kernels/cpu/ref/vec_dot_ref.h"
#include "tensor/quant_rows.h"
#if defined(__x86_64__)
#include "kernels/cpu/x86/avx2.h"
#include "kernels/cpu/x86/avx2_table.h"
#include "kernels/cpu/x86/vnni_table.h"
#elif defined(__aarch64__)
#include "kernels/cpu/arm/neon_table.h"
#endif

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
  set(GgmlType::Q4_0, GgmlType::Q8_0, tensor::quantize_act_q8_0, ref::dot_q4_0_q8_0);
  set(GgmlType::Q5_0, GgmlType::Q8_0, tensor::quantize_act_q8_0, ref::dot_q5_0_q8_0);
  set(GgmlType::Q8_0, GgmlType::Q8_0, tensor::quantize_act_q8_0, ref::dot_q8_0_q8_0);
  set(GgmlType::Q4_1, GgmlType::Q8_1, tensor::quantize_act_q8_1, ref::dot_q4_1_q8_1);
  set(GgmlType::Q5_1, GgmlType::Q8_1, tensor::quantize_act_q8_1, ref::dot_q5_1_q8_1);
  set(GgmlType::Q2_K, GgmlType::Q8_K, tensor::quantize_row_q8_k, ref::dot_q2_k_q8_k);
  set(GgmlType::Q3_K, GgmlType::Q8_K, tensor::quantize_row_q8_k, ref::dot_q3_k_q8_k);
  set(GgmlType::Q4_K, GgmlType::Q8_K, tensor::quantize_row_q8_k, ref::dot_q4_k_q8_k);
  set(GgmlType::Q5_K, GgmlType::Q8_K, tensor::quantize_row_q8_k, ref::dot_q5_k_q8_k);
  set(GgmlType::Q6_K, GgmlType::Q8_K, tensor::quantize_row_q8_k, ref::dot_q6_k_q8_k);
  t.attend = ref::attend;
  t.attend_group = ref::attend_group;
  t.swiglu = ref::swiglu;
  return t;
}

// The tables this CPU can run, reference first and best last; built once,
// after the CPU's features are read, and never changed. Only the folder of
// the architecture being built is compiled (CMakeLists.txt).
struct Registry {
  static constexpr int kMaxTables = 4;
  KernelTable storage[kMaxTables];
  const KernelTable* tables[kMaxTables] = {};
  int count = 0;

  void add(const KernelTable& t) {
    storage[count] = t;
    tables[count] = &storage[count];
    ++count;
  }

  Registry() {
    add(make_ref_table());
    const KernelTable& ref = storage[0];
#if defined(__x86_64__)
    if (avx2::supported()) {
      add(make_avx2_table(ref));
      const KernelTable avx2 = storage[1];
      // The last table added is the one "auto" picks: avx512-vnni over
      // avx-vnni where a CPU has both (Sapphire Rapids and later): its build
      // has 32 vector registers and a 512-bit Q4_K decode. Session 20, 1.5B
      // random files, 2 threads: pp128 Q4_0 177 vs 174, Q4_K_M 151 vs 142,
      // Q8_0 74 vs 71 t/s; Q4_K_M tg64 20.9-21.1 vs 19.5-19.9.
      if (avx_vnni_supported()) add(make_avx_vnni_table(avx2));
      if (avx512_vnni_supported()) add(make_avx512_vnni_table(avx2));
    }
#elif defined(__aarch64__)
    if (neon::supported()) add(neon::make_table(ref));
    if (neon::dotprod_supported()) add(neon::make_dotprod_table(ref));
#endif
  }
};

const Registry& registry() {
  static const Registry r;
  return r;
}

// Null until select_kernels() runs; then the chosen table.
std::atomic<const KernelTable*> g_selected{nullptr};

}  // namespace

const KernelTable& ref_kernels() {
  return *registry().tables[0];
}

const KernelTable& active_kernels() {
  const KernelTable* t = g_selected.load(std::memory_order_acquire);
  if (t != nullptr) return *t;
  const Registry& r = registry();
  return *r.tables[r.count - 1];
}

std::span<const KernelTable* const> available_kernels() {
  const Registry& r = registry();
  return {r.tables, static_cast<size_t>(r.count)};
}

const KernelTable* find_kernels(std::string_view name) {
  for (const KernelTable* t : available_kernels()) {
    if (name == t->isa) return t;
  }
  return nullptr;
}

Status select_kernels(std::string_view name) {
  if (name == "auto") {
    g_selected.store(available_kernels().back(), std::memory_order_release);
    return {};
  }
  const KernelTable* t = find_kernels(name);
  if (t == nullptr) {
    std::string have;
    for (const KernelTable* k : available_kernels())
      have += std::string(have.empty() ? "" : ", ") + k->isa;
    return make_error("kernels '{}': not available on this CPU (available: auto, {})",
                      std::string(name), have);
  }
  g_selected.store(t, std::memory_order_release);
  return {};
}

}  // namespace frugal::kernels
