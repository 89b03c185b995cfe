// KvCache storage (declared in model.h).
#include <algorithm>

#include "model/model.h"

namespace frugal::model {

KvCache::KvCache(const HParams& hp, int64_t capacity)
    : capacity_(std::max<int64_t>(capacity, 0)),
      kv_dim_(hp.n_head_kv * hp.head_dim),
      n_layer_(hp.n_layer),
      k_(static_cast<size_t>(n_layer_ * capacity_ * kv_dim_)),  // [L, C, Hkv*D]
      v_(k_.size()) {}                                          // [L, C, Hkv*D]

}  // namespace frugal::model
