// Compared against: (1) the scalar reference table, bit for bit, for every
// kernel table this CPU runs (attend over head sizes 64 / 128 / 80 / 12,
// 1..70 positions, both score orders, scratch poisoned beforehand; swiglu on
// lengths with and without a tail); (2) an independent double-precision
// attention (softmax(q.k * scale) . v computed in long double) within 2e-6 of
// the output range, so the ggml-ordered arithmetic is also correct
// arithmetic; (3) std::exp in double for expf_poly, within 2 ulp over
// [-87, 88], and its documented flush behaviour at the ends; (4) an F16
// K/V cache against the F32 reference over the same values rounded to half,
// bit for bit, on every table, single queries and groups; (5) groups split
// in phases between threads (positions, queries, columns), bit for bit.
// (End-to-end agreement with llama.cpp's arithmetic is in
// runtime_parity_test.cpp.)
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "kernels/cpu/attention.h"
#include "kernels/cpu/dispatch.h"
#include "tensor/fp16.h"

namespace frugal::kernels {
namespace {

struct Case {
  int64_t D, n_kv, stride;
  std::vector<float> q, k, v;
  std::vector<uint16_t> k16, v16;  // k and v as halves (with_halves)
};

// k16/v16 = k/v rounded to half, and k/v replaced by those halves widened:
// the F32 cache that holds exactly what the F16 one holds.
Case with_halves(Case c) {
  for (auto [f, h] : {std::pair{&c.k, &c.k16}, std::pair{&c.v, &c.v16}}) {
    h->resize(f->size());
    for (size_t i = 0; i < f->size(); ++i) {
      (*h)[i] = tensor::fp32_to_fp16((*f)[i]);
      (*f)[i] = tensor::fp16_to_fp32((*h)[i]);
    }
  }
  return c;
}

void set_kv(const Case& c, KvType type, const void*& k, const void*& v) {
  k = type == KvType::kF16 ? static_cast<const void*>(c.k16.data()) : c.k.data();
  v = type == KvType::kF16 ? static_cast<const void*>(c.v16.data()) : c.v.data();
}

Case make_case(int64_t D, int64_t n_kv, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  Case c{D, n_kv, D * 3 + 5, {}, {}, {}};  // rows further apart than D, like a KV cache
  c.q.resize(static_cast<size_t>(D));
  c.k.resize(static_cast<size_t>(n_kv * c.stride));
  c.v.resize(c.k.size());
  for (auto& x : c.q) x = 2.0f * nd(rng);
  for (auto& x : c.k) x = nd(rng);
  for (auto& x : c.v) x = nd(rng);
  return c;
}

std::vector<float> run(const KernelTable& t, const Case& c, ScoreOrder order, float scale,
                       KvType kv_type = KvType::kF32) {
  std::vector<float> scratch(static_cast<size_t>(attend_scores_len(c.n_kv) + attend_acc_len(c.D)),
                             std::numeric_limits<float>::quiet_NaN());  // must be overwritten
  std::vector<float> out(static_cast<size_t>(c.D), std::numeric_limits<float>::quiet_NaN());
  AttendArgs a;
  a.q = c.q.data();
  set_kv(c, kv_type, a.k, a.v);
  a.kv_type = kv_type;
  a.kv_stride = c.stride;
  a.n_kv = c.n_kv;
  a.head_dim = c.D;
  a.scale = scale;
  a.order = order;
  a.scores = scratch.data();
  a.acc = scratch.data() + attend_scores_len(c.n_kv);
  a.out = out.data();
  t.attend(a);
  return out;
}

TEST(Attention, EveryTableMatchesReferenceBitForBit) {
  for (const KernelTable* t : available_kernels()) {
    for (int64_t D : {64, 128, 80, 12}) {
      for (int64_t n : {1, 2, 7, 8, 9, 31, 33, 70}) {
        const Case c = make_case(D, n, static_cast<uint32_t>(D * 1000 + n));
        for (ScoreOrder order : {ScoreOrder::kBatch, ScoreOrder::kSingle}) {
          const float scale = 1.0f / std::sqrt(static_cast<float>(D));
          auto want = run(ref_kernels(), c, order, scale);
          auto got = run(*t, c, order, scale);
          ASSERT_EQ(0, std::memcmp(want.data(), got.data(), want.size() * sizeof(float)))
              << t->isa << " D=" << D << " n=" << n << " order=" << static_cast<int>(order);
        }
      }
    }
  }
}

// An F16 cache gives the bits of an F32 cache holding the same halves.
TEST(Attention, HalfCacheMatchesFloatCacheOfTheSameValuesBitForBit) {
  for (const KernelTable* t : available_kernels()) {
    for (int64_t D : {64, 128, 80, 12}) {
      for (int64_t n : {1, 2, 7, 8, 9, 31, 33, 70}) {
        const Case c = with_halves(make_case(D, n, static_cast<uint32_t>(D * 77 + n)));
        for (ScoreOrder order : {ScoreOrder::kBatch, ScoreOrder::kSingle}) {
          auto want = run(ref_kernels(), c, order, 0.1f, KvType::kF32);
          auto got = run(*t, c, order, 0.1f, KvType::kF16);
          ASSERT_EQ(0, std::memcmp(want.data(), got.data(), want.size() * sizeof(float)))
              << t->isa << " D=" << D << " n=" << n << " order=" << static_cast<int>(order);
        }
      }
    }
  }
}

// A group of queries over one K/V (GQA heads x prompt rows, each with its
// own causal length) gives each query exactly what attend() alone gives.
class AttentionGroup : public ::testing::TestWithParam<KvType> {};

TEST_P(AttentionGroup, GroupOfQueriesMatchesOneAtATimeBitForBit) {
  const KvType kv_type = GetParam();
  for (const KernelTable* t : available_kernels()) {
    for (int64_t D : {64, 128, 12}) {
      const int64_t max_n = 77;
      Case c = with_halves(make_case(D, max_n, static_cast<uint32_t>(D + 5)));
      for (int64_t m : {1, 2, 3, 4, 5, 12})
        for (bool same : {false, true}) {
          std::mt19937 rng(static_cast<uint32_t>(m * 31 + D));
          std::normal_distribution<float> nd(0.0f, 1.0f);
          std::vector<float> qs(static_cast<size_t>(m * D));
          for (auto& x : qs) x = 2.0f * nd(rng);
          std::vector<AttendQuery> queries(static_cast<size_t>(m));
          std::vector<float> outs(static_cast<size_t>(m * D),
                                  std::numeric_limits<float>::quiet_NaN());
          for (int64_t i = 0; i < m; ++i) {
            // Lengths around tile (32) and lane (8) edges, and the longest.
            // Or, as at decode, every query of one length.
            const int64_t lens[] = {1, 7, 8, 31, 32, 33, 40, 64, 65, 70, 76, 77};
            queries[static_cast<size_t>(i)] = {
                qs.data() + i * D, same ? max_n - m : lens[(i * 5 + m) % 12], outs.data() + i * D};
          }
          for (ScoreOrder order : {ScoreOrder::kBatch, ScoreOrder::kSingle}) {
            AttendGroupArgs g;
            set_kv(c, kv_type, g.k, g.v);
            g.kv_type = kv_type, g.kv_stride = c.stride, g.head_dim = D;
            g.scale = 0.125f, g.order = order, g.queries = queries.data(), g.n_queries = m;
            std::vector<float> scratch(static_cast<size_t>(attend_group_scratch_len(m, max_n, D)),
                                       std::numeric_limits<float>::quiet_NaN());
            g.scratch = scratch.data();
            attend_group_with(*t, g);
            for (int64_t i = 0; i < m; ++i) {
              Case one = c;
              one.n_kv = queries[static_cast<size_t>(i)].n_kv;
              one.q.assign(qs.begin() + i * D, qs.begin() + (i + 1) * D);
              auto want = run(ref_kernels(), one, order, 0.125f);
              ASSERT_EQ(0, std::memcmp(want.data(), outs.data() + i * D, D * sizeof(float)))
                  << t->isa << " D=" << D << " m=" << m << " query " << i << " n_kv=" << one.n_kv
                  << " order=" << static_cast<int>(order);
            }
          }
        }
    }
  }
}

// The same group split in phases between "threads" (attention.h: positions
// for the scores, queries for the softmax, columns for the values), parts
// run in reverse order and maxima merged by the caller: every query gets
// exactly what attend() alone gives, on every table.
TEST_P(AttentionGroup, GroupSplitInPhasesMatchesOneAtATimeBitForBit) {
  const KvType kv_type = GetParam();
  for (const KernelTable* t : available_kernels()) {
    for (int64_t D : {64, 128, 12}) {
      for (int64_t max_n : {1, 40, 77, 300}) {
        Case c = with_halves(make_case(D, max_n, static_cast<uint32_t>(D * 3 + max_n)));
        for (int64_t m : {1, 3, 6}) {
          for (bool same : {true, false}) {
            std::mt19937 rng(static_cast<uint32_t>(m * 7 + D + max_n));
            std::normal_distribution<float> nd(0.0f, 1.0f);
            std::vector<float> qs(static_cast<size_t>(m * D));
            for (auto& x : qs) x = 2.0f * nd(rng);
            std::vector<AttendQuery> queries(static_cast<size_t>(m));
            std::vector<float> outs(static_cast<size_t>(m * D),
                                    std::numeric_limits<float>::quiet_NaN());
            for (int64_t i = 0; i < m; ++i)
              queries[static_cast<size_t>(i)] = {qs.data() + i * D,
                                                 same ? max_n : std::max<int64_t>(1, max_n - 9 * i),
                                                 outs.data() + i * D};
            // Part boundaries: positions cut off tile (32) and lane (8) edges,
            // columns at multiples of 8, queries one and the rest.
            const std::vector<int64_t> pos_cuts = {0, max_n / 3, max_n / 3 + 33, max_n};
            std::vector<int64_t> col_cuts = {0};
            for (int64_t d : {8, 40, 64}) {
              if (d < D) col_cuts.push_back(d);
            }
            col_cuts.push_back(D);
            const std::vector<int64_t> query_cuts = {0, 1, m};
            for (ScoreOrder order : {ScoreOrder::kBatch, ScoreOrder::kSingle}) {
              AttendGroupArgs g;
              set_kv(c, kv_type, g.k, g.v);
              g.kv_type = kv_type, g.kv_stride = c.stride, g.head_dim = D;
              g.scale = 0.125f, g.order = order, g.queries = queries.data(), g.n_queries = m;
              std::vector<float> scratch(static_cast<size_t>(attend_group_scratch_len(m, max_n, D)),
                                         std::numeric_limits<float>::quiet_NaN());
              g.scratch = scratch.data();
              std::vector<float> merged(static_cast<size_t>(m),
                                        -std::numeric_limits<float>::infinity());
              std::vector<float> part(static_cast<size_t>(m));
              auto run_parts = [&](AttendPhase phase, const std::vector<int64_t>& cuts) {
                for (size_t p = cuts.size() - 1; p-- > 0;) {
                  g.phase = phase, g.begin = std::min(cuts[p], cuts[p + 1]);
                  g.end = cuts[p + 1];
                  g.maxima = phase == AttendPhase::kScores ? part.data() : merged.data();
                  attend_group_with(*t, g);
                  if (phase == AttendPhase::kScores)
                    for (int64_t i = 0; i < m; ++i)
                      merged[static_cast<size_t>(i)] =
                          std::max(merged[static_cast<size_t>(i)], part[static_cast<size_t>(i)]);
                }
              };
              run_parts(AttendPhase::kScores, pos_cuts);
              run_parts(AttendPhase::kSoftmax, query_cuts);
              run_parts(AttendPhase::kValues, col_cuts);
              for (int64_t i = 0; i < m; ++i) {
                Case one = c;
                one.n_kv = queries[static_cast<size_t>(i)].n_kv;
                one.q.assign(qs.begin() + i * D, qs.begin() + (i + 1) * D);
                auto want = run(ref_kernels(), one, order, 0.125f);
                ASSERT_EQ(0, std::memcmp(want.data(), outs.data() + i * D, D * sizeof(float)))
                    << t->isa << " D=" << D << " n=" << max_n << " m=" << m << " query " << i
                    << " order=" << static_cast<int>(order);
              }
            }
          }
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(KvTypes, AttentionGroup, ::testing::Values(KvType::kF32, KvType::kF16),
                         [](const auto& info) {
                           return std::string(info.param == KvType::kF16 ? "F16" : "F32");
                         });

TEST(Attention, MatchesDoublePrecisionAttention) {
  for (const KernelTable* t : available_kernels()) {
    for (int64_t D : {64, 128, 12}) {
      for (int64_t n : {1, 5, 64, 300}) {
        const Case c = make_case(D, n, static_cast<uint32_t>(7 + D + n));
        const double scale = 1.0 / std::sqrt(static_cast<double>(D));
        std::vector<long double> p(static_cast<size_t>(n));
        long double mx = -1e300L, sum = 0;
        for (int64_t j = 0; j < n; ++j) {
          long double s = 0;
          for (int64_t i = 0; i < D; ++i)
            s += static_cast<long double>(c.q[i]) * c.k[j * c.stride + i];
          p[j] = s * scale;
          mx = std::max(mx, p[j]);
        }
        for (auto& x : p) sum += (x = std::exp(x - mx));
        float range = 0;
        std::vector<long double> want(static_cast<size_t>(D), 0.0L);
        for (int64_t d = 0; d < D; ++d) {
          for (int64_t j = 0; j < n; ++j) want[d] += p[j] / sum * c.v[j * c.stride + d];
          range = std::max(range, static_cast<float>(std::fabs(want[d])));
        }
        for (ScoreOrder order : {ScoreOrder::kBatch, ScoreOrder::kSingle}) {
          auto got = run(*t, c, order, static_cast<float>(scale));
          for (int64_t d = 0; d < D; ++d)
            ASSERT_NEAR(got[d], static_cast<double>(want[d]), 2e-6 * std::max(1.0f, range))
                << t->isa << " D=" << D << " n=" << n << " d=" << d;
        }
      }
    }
  }
}

TEST(Attention, ExpPolyWithinTwoUlpAndFlushesAtTheEnds) {
  for (float x = -87.0f; x <= 88.0f; x += 0.0137f) {
    const double want = std::exp(static_cast<double>(x));
    const float got = expf_poly(x);
    const double ulp =
        std::nextafter(static_cast<float>(want), INFINITY) - static_cast<float>(want);
    ASSERT_LE(std::fabs(got - want), 2.0 * ulp) << x;
  }
  EXPECT_EQ(expf_poly(0.0f), 1.0f);
  EXPECT_EQ(expf_poly(-std::numeric_limits<float>::infinity()), 0.0f);
  EXPECT_EQ(expf_poly(-200.0f), 0.0f);
  EXPECT_EQ(expf_poly(100.0f), std::numeric_limits<float>::infinity());
}

TEST(Swiglu, EveryTableMatchesReferenceBitForBit) {
  std::mt19937 rng(3);
  std::normal_distribution<float> nd(0.0f, 4.0f);
  for (int64_t n : {1, 8, 13, 1536, 4867}) {
    std::vector<float> g(static_cast<size_t>(n)), u(g.size());
    for (auto& x : g) x = nd(rng);
    for (auto& x : u) x = nd(rng);
    g[0] = -120.0f;  // exp of +120 overflows: silu must still be -0
    std::vector<float> want(g.size()), got(g.size());
    ref_kernels().swiglu(g.data(), u.data(), want.data(), n);
    for (size_t i = 0; i < g.size(); ++i) {
      const double s = g[i] / (1.0 + std::exp(-static_cast<double>(g[i]))) * u[i];
      ASSERT_NEAR(want[i], s, 1e-5 * std::max(1.0, std::fabs(s))) << i;
    }
    for (const KernelTable* t : available_kernels()) {
      t->swiglu(g.data(), u.data(), got.data(), n);
      ASSERT_EQ(0, std::memcmp(want.data(), got.data(), want.size() * sizeof(float)))
          << t->isa << " n=" << n;
    }
  }
}

}  // namespace
}  // namespace frugal::kernels
