// KvCache memory: the cache reads as zeros and takes resident memory only for
// the positions written (common/zeroed_pages.h), so a long context costs RSS
// as it fills, not up front; an impossible size gives an empty cache.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>

#include "common/process_memory.h"
#include "model/model.h"

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

double rss_mib() { return static_cast<double>(process_memory().rss_bytes) / kMiB; }

TEST(KvCache, CommitsMemoryOnlyForWrittenPositions) {
  if (process_memory().rss_bytes == 0) GTEST_SKIP() << "no /proc/self/status here";
  const double before = rss_mib();
  KvCache cache(shapes(), 8192);
  ASSERT_EQ(cache.capacity(), 8192);
  const double after_alloc = rss_mib();
  EXPECT_LT(after_alloc - before, 8.0) << "128 MiB of K/V were committed up front";
  EXPECT_EQ(cache.k(3)[8191 * 512 + 511], 0.0f);  // reads as zeros
  EXPECT_EQ(cache.v(0)[0], 0.0f);
  // Fill layer 0's K and V for 4096 positions: 2 x 8 MiB become resident.
  std::fill(cache.k(0), cache.k(0) + 4096 * 512, 1.0f);
  std::fill(cache.v(0), cache.v(0) + 4096 * 512, 2.0f);
  const double after_write = rss_mib();
  EXPECT_GT(after_write - after_alloc, 15.0);
  EXPECT_LT(after_write - after_alloc, 24.0);
  EXPECT_EQ(cache.k(0)[4095 * 512], 1.0f);
  EXPECT_EQ(cache.v(0)[4096 * 512], 0.0f);  // the next position is still untouched
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
  a.k(1)[5] = 3.0f;
  a.n_past = 6;
  KvCache b = std::move(a);
  EXPECT_EQ(b.k(1)[5], 3.0f);
  EXPECT_EQ(b.n_past, 6);
  EXPECT_EQ(b.capacity(), 16);
}

}  // namespace
}  // namespace frugal::model
