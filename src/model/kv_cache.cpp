// KvCache storage (declared in model.h).
#include <algorithm>

#include "common/checked_math.h"
#include "model/model.h"

namespace frugal::model {
namespace {

// Capacity clamped to >= 0, and to 0 when L * C * Hkv*D would overflow, so a
// bad request gets an empty cache (and a "cache full" error) rather than UB.
int64_t safe_capacity(const HParams& hp, int64_t capacity) {
  if (capacity <= 0 || hp.n_layer < 0 || hp.n_head_kv < 0 || hp.head_dim < 0) return 0;
  auto n = checked_mul(static_cast<uint64_t>(hp.n_layer), static_cast<uint64_t>(capacity));
  if (n) n = checked_mul(*n, static_cast<uint64_t>(hp.n_head_kv));
  if (n) n = checked_mul(*n, static_cast<uint64_t>(hp.head_dim));
  if (!n || *n > (uint64_t{1} << 62) / sizeof(float)) return 0;
  return capacity;
}

}  // namespace

KvCache::KvCache(const HParams& hp, int64_t capacity)
    : capacity_(safe_capacity(hp, capacity)),
      kv_dim_(hp.n_head_kv * hp.head_dim),
      n_layer_(hp.n_layer),
      k_(static_cast<size_t>(n_layer_ * capacity_ * kv_dim_) * sizeof(float)),  // [L, C, Hkv*D]
      v_(k_.size()) {                                                           // [L, C, Hkv*D]
  // The mapping failed (address space or overcommit limit): an empty cache,
  // which callers report as "cache full", never a crash.
  if (k_.size() != v_.size() || (capacity_ > 0 && kv_dim_ > 0 && n_layer_ > 0 && !v_.data()))
    capacity_ = 0, k_ = ZeroedPages(), v_ = ZeroedPages();
}

}  // namespace frugal::model
