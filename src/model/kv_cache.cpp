// KvCache storage (declared in model.h).
#include <algorithm>

#include "common/checked_math.h"
#include "model/model.h"
#include "tensor/fp16.h"

namespace frugal::model {
namespace {

// Capacity clamped to >= 0, and to 0 when L * C * Hkv*D elements would
// overflow, so a bad request gets an empty cache (and a "cache full" error)
// rather than UB.
int64_t safe_capacity(const HParams& hp, int64_t capacity) {
  if (capacity <= 0 || hp.n_layer < 0 || hp.n_head_kv < 0 || hp.head_dim < 0) return 0;
  auto n = checked_mul(static_cast<uint64_t>(hp.n_layer), static_cast<uint64_t>(capacity));
  if (n) n = checked_mul(*n, static_cast<uint64_t>(hp.n_head_kv));
  if (n) n = checked_mul(*n, static_cast<uint64_t>(hp.head_dim));
  if (!n || *n > (uint64_t{1} << 62) / sizeof(float)) return 0;
  return capacity;
}

}  // namespace

const char* kv_type_name(KvType t) {
  return t == KvType::kF16 ? "f16" : "f32";
}

Result<KvType> parse_kv_type(std::string_view name) {
  if (name == "f16") return KvType::kF16;
  if (name == "f32") return KvType::kF32;
  return make_error("KV cache type '{}' is not one of f16, f32", std::string(name));
}

uint64_t KvCache::bytes_per_position(const HParams& hp, KvType type) {
  return 2 * static_cast<uint64_t>(std::max<int64_t>(0, hp.n_layer)) *
         static_cast<uint64_t>(std::max<int64_t>(0, hp.n_head_kv * hp.head_dim)) *
         kernels::kv_type_size(type);
}

KvCache::KvCache(const HParams& hp, int64_t capacity, KvType type)
    : capacity_(safe_capacity(hp, capacity)),
      kv_dim_(hp.n_head_kv * hp.head_dim),
      head_dim_(hp.head_dim),
      n_layer_(hp.n_layer),
      type_(type),
      k_(static_cast<size_t>(n_layer_ * capacity_ * kv_dim_) * elem_),  // [L, Hkv, C, D]
      v_(k_.size()) {                                                   // [L, Hkv, C, D]
  // The mapping failed (address space or overcommit limit): an empty cache,
  // which callers report as "cache full", never a crash.
  if (k_.size() != v_.size() || (capacity_ > 0 && kv_dim_ > 0 && n_layer_ > 0 && !v_.data()))
    capacity_ = 0, k_ = ZeroedPages(), v_ = ZeroedPages();
}

void KvCache::store(int64_t layer, int64_t pos, int64_t n_pos, const float* k_rows,
                    const float* v_rows) {
  const int64_t D = head_dim_, Hkv = D > 0 ? kv_dim_ / D : 0;
  for (int64_t g = 0; g < Hkv; ++g) {
    const size_t at = layer_offset(layer) + head_offset(g) + static_cast<size_t>(pos * D) * elem_;
    for (int64_t t = 0; t < n_pos; ++t) {
      const float* kr = k_rows + t * kv_dim_ + g * D;  // [D]
      const float* vr = v_rows + t * kv_dim_ + g * D;  // [D]
      const size_t row = at + static_cast<size_t>(t * D) * elem_;
      if (type_ == KvType::kF32) {
        std::copy_n(kr, D, reinterpret_cast<float*>(k_base() + row));
        std::copy_n(vr, D, reinterpret_cast<float*>(v_base() + row));
        continue;
      }
      // Scalar conversion on purpose: it is a few thousand values per token
      // per layer, next to the millions of weight bytes the same step reads.
      uint16_t* kh = reinterpret_cast<uint16_t*>(k_base() + row);  // [D]
      uint16_t* vh = reinterpret_cast<uint16_t*>(v_base() + row);  // [D]
      for (int64_t d = 0; d < D; ++d) {
        kh[d] = tensor::fp32_to_fp16(kr[d]);
        vh[d] = tensor::fp32_to_fp16(vr[d]);
      }
    }
  }
}

}  // namespace frugal::model
