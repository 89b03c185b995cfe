// KvCache memory: the cache reads as zeros and takes resident memory only for
// the positions written (common/zeroed_pages.h), so a long context costs RSS
// as it fills, not up front; an impossible size gives an empty cache.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "common/process_memory.h"
#include "model/model.h"
#include "tensor/fp16.h"

namespace frugal::model {
namespace {

constexpr double kMiB = 1024.0 * 1024.0;

HParams shapes() {
  HParams hp;
  hp.n_layer = 4;
  hp.n_head_kv = 4;
  hp.head_dim = 128;  // kv_dim 512: 4 layers x 8192 positions x 2 KiB = 64 MiB each for K and V
  return hp;
}

double rss_mib() {
  return static_cast<double>(process_memory().rss_bytes) / kMiB;
}

TEST(KvCache, CommitsMemoryOnlyForWrittenPositions) {
  if (process_memory().rss_bytes == 0) GTEST_SKIP() << "no /proc/self/status here";
  const std::vector<float> k(size_t{4096} * 512, 1.0f), v(k.size(), 2.0f);  // [4096, Hkv*D]
  const double before = rss_mib();
  KvCache cache(shapes(), 8192);
  ASSERT_EQ(cache.capacity(), 8192);
  const double after_alloc = rss_mib();
  EXPECT_LT(after_alloc - before, 8.0) << "128 MiB of K/V were committed up front";
  EXPECT_EQ(cache.k_f32(3)[8191 * 512 + 511], 0.0f);  // reads as zeros
  EXPECT_EQ(cache.v_f32(0)[0], 0.0f);
  // Store layer 0's K and V for 4096 positions: 2 x 8 MiB become resident,
  // spread over the 4 heads' rows (head-major layout).
  cache.store(0, 0, 4096, k.data(), v.data());
  const double after_write = rss_mib();
  EXPECT_GT(after_write - after_alloc, 15.0);
  EXPECT_LT(after_write - after_alloc, 24.0);
  for (int64_t g = 0; g < 4; ++g) {
    const auto* kg = static_cast<const float*>(cache.k_head(0, g));  // [C, D]
    const auto* vg = static_cast<const float*>(cache.v_head(0, g));  // [C, D]
    EXPECT_EQ(kg[4095 * 128 + 127], 1.0f);
    EXPECT_EQ(vg[4095 * 128], 2.0f);
    EXPECT_EQ(vg[4096 * 128], 0.0f);  // the next position is still untouched
  }
}

// Rows come in with the heads interleaved ([n_pos, Hkv*D], as the
// projections write them) and each head's part lands in that head's rows.
TEST(KvCache, StoresEachHeadsPartInItsOwnRows) {
  KvCache cache(shapes(), 64);
  std::vector<float> k(size_t{3} * 512), v(k.size());  // [3, Hkv*D]
  for (size_t i = 0; i < k.size(); ++i) k[i] = static_cast<float>(i), v[i] = -static_cast<float>(i);
  cache.store(1, 5, 3, k.data(), v.data());
  for (int64_t g = 0; g < 4; ++g) {
    const auto* kg = static_cast<const float*>(cache.k_head(1, g));  // [C, D]
    const auto* vg = static_cast<const float*>(cache.v_head(1, g));  // [C, D]
    for (int64_t t = 0; t < 3; ++t)
      for (int64_t d = 0; d < 128; d += 31) {
        ASSERT_EQ(kg[(5 + t) * 128 + d], k[static_cast<size_t>(t * 512 + g * 128 + d)]);
        ASSERT_EQ(vg[(5 + t) * 128 + d], v[static_cast<size_t>(t * 512 + g * 128 + d)]);
      }
    EXPECT_EQ(kg[4 * 128 + 127], 0.0f);  // positions 4 and 8: untouched
    EXPECT_EQ(kg[8 * 128], 0.0f);
  }
  EXPECT_EQ(static_cast<const float*>(cache.k_head(0, 3))[5 * 128], 0.0f);  // other layers too
}

// An F16 cache holds each stored value rounded to half (round to nearest
// even) in half the memory of an F32 one.
TEST(KvCache, HalfCacheStoresRoundedValuesInHalfTheMemory) {
  EXPECT_EQ(KvCache::bytes_per_position(shapes(), KvType::kF32), 2u * 4 * 512 * 4);
  EXPECT_EQ(KvCache::bytes_per_position(shapes(), KvType::kF16), 2u * 4 * 512 * 2);
  const int64_t n_pos = 4096;
  std::vector<float> k(static_cast<size_t>(n_pos * 512)), v(k.size());  // [n_pos, Hkv*D]
  for (size_t i = 0; i < k.size(); ++i) {
    k[i] = 1.0f + static_cast<float>(i % 1000) * 1e-4f;  // most are not halves
    v[i] = -65504.0f * 2;                                // beyond half's range: inf
  }
  const double before = rss_mib();
  KvCache cache(shapes(), 8192, KvType::kF16);
  ASSERT_EQ(cache.capacity(), 8192);
  EXPECT_EQ(cache.type(), KvType::kF16);
  EXPECT_EQ(cache.k_f32(0), nullptr);  // no float view of halves
  cache.store(2, 10, n_pos, k.data(), v.data());
  if (process_memory().rss_bytes != 0) {
    const double grown = rss_mib() - before;  // 2 x 4 MiB of halves
    EXPECT_GT(grown, 7.0);
    EXPECT_LT(grown, 12.0);
  }
  // Element i of the stored rows: position 10 + i / 512, head i % 512 / 128.
  auto at = [](const void* layer, size_t i) {  // layer: [Hkv, C, D] halves
    const size_t p = 10 + i / 512, g = i % 512 / 128, d = i % 128;
    return static_cast<const uint16_t*>(layer)[(g * 8192 + p) * 128 + d];
  };
  for (size_t i = 0; i < k.size(); i += 37) {
    ASSERT_EQ(at(cache.k(2), i), tensor::fp32_to_fp16(k[i])) << i;
    ASSERT_EQ(at(cache.v(2), i), 0xfc00u) << i;  // -inf
  }
  EXPECT_EQ(tensor::fp16_to_fp32(at(cache.k(2), 3)),
            tensor::fp16_to_fp32(tensor::fp32_to_fp16(k[3])));
  for (int64_t g = 0; g < 4; ++g) {
    const auto* kg = static_cast<const uint16_t*>(cache.k_head(2, g));  // [C, D]
    EXPECT_EQ(kg[10 * 128 - 1], 0u);        // before the stored range: untouched
    EXPECT_EQ(kg[(10 + n_pos) * 128], 0u);  // after it: untouched
  }
}

TEST(KvCache, TypeNamesRoundTripAndOthersAreRefused) {
  for (KvType t : {KvType::kF32, KvType::kF16}) {
    auto parsed = parse_kv_type(kv_type_name(t));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, t);
  }
  for (const char* bad : {"", "F16", "q8_0", "f16 ", "bf16"}) {
    auto parsed = parse_kv_type(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_NE(parsed.error().message.find("f16, f32"), std::string::npos);
  }
}

TEST(KvCache, ImpossibleSizesGiveAnEmptyCache) {
  HParams hp = shapes();
  EXPECT_EQ(KvCache(hp, -1).capacity(), 0);
  EXPECT_EQ(KvCache(hp, int64_t{1} << 50).capacity(), 0);  // L*C*kv_dim overflows the bound
  hp.n_layer = 0;
  EXPECT_EQ(KvCache(hp, 16).capacity(), 16);  // nothing to store, nothing mapped
}

TEST(KvCache, MovesKeepTheData) {
  KvCache a(shapes(), 16);
  a.k_f32(1)[5] = 3.0f;
  a.n_past = 6;
  KvCache b = std::move(a);
  EXPECT_EQ(b.k_f32(1)[5], 3.0f);
  EXPECT_EQ(b.n_past, 6);
  EXPECT_EQ(b.capacity(), 16);
}

}  // namespace
}  // namespace frugal::model
