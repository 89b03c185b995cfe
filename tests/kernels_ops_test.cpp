// Compared against: straightforward double-precision formulas written in this
// test — RMSNorm x / sqrt(mean(x^2) + eps) * w; RoPE as a rotation of each pair
// by pos * theta^(-2i/D) / freq_factor[i] with std::cos/std::sin, in both the
// adjacent-pair (GGUF llama) and half-split (NeoX/Qwen2) layouts, at positions
// 0 and 1; softmax exp(x - max) / sum; SwiGLU g / (1 + e^-g) * u. RoPE is also
// compared bit-exact with llama.cpp's own ggml_rope_ext (tests/data/rope/ from
// tools/gen_rope_golden.py), up to position 131071: ggml builds the angle in
// float, which at large positions is far (1e-2) from the closed form, and we
// follow ggml there so that logits match llama.cpp's.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/ops.h"

namespace frugal::kernels {
namespace {

std::vector<float> gaussian(size_t n, uint32_t seed, float sigma = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, sigma);
  std::vector<float> v(n);
  for (auto& x : v) x = nd(rng);
  return v;
}

TEST(RmsNorm, MatchesDoubleFormula) {
  for (int64_t n : {1, 7, 576, 4096}) {
    const auto x = gaussian(n, 1, 3.0f);
    const auto w = gaussian(n, 2);
    std::vector<float> y(n);
    const float eps = 1e-5f;
    rms_norm(x.data(), w.data(), y.data(), n, eps);
    double ss = 0;
    for (float v : x) ss += double{v} * v;
    const double scale = 1.0 / std::sqrt(ss / n + eps);
    for (int64_t i = 0; i < n; ++i) {
      const double want = x[i] * scale * w[i];
      ASSERT_NEAR(y[i], want, 1e-6 * std::fabs(want) + 1e-7) << n << " " << i;
    }
  }
}

void rope_reference(std::vector<double>& x, int64_t d, int64_t pos, double theta, bool neox,
                    const float* ff) {
  for (int64_t i = 0; i < d / 2; ++i) {
    double ang = pos * std::pow(theta, -2.0 * i / d);
    if (ff) ang /= ff[i];
    const int64_t a = neox ? i : 2 * i, b = neox ? i + d / 2 : 2 * i + 1;
    const double x0 = x[a], x1 = x[b];
    x[a] = x0 * std::cos(ang) - x1 * std::sin(ang);
    x[b] = x0 * std::sin(ang) + x1 * std::cos(ang);
  }
}

TEST(Rope, BothLayoutsWithAndWithoutFreqFactors) {
  const int64_t d = 128;
  std::vector<float> ff(d / 2);
  for (int64_t i = 0; i < d / 2; ++i)
    ff[i] = 1.0f + static_cast<float>(i % 5) * 1.7f;  // llama3-like
  for (bool neox : {false, true}) {
    for (const float* factors :
         {static_cast<const float*>(nullptr), static_cast<const float*>(ff.data())}) {
      // Larger positions: see RopeGolden (float angles, as ggml).
      for (int64_t pos : {0, 1}) {
        for (float theta : {10000.0f, 500000.0f, 1000000.0f}) {
          auto x = gaussian(d, static_cast<uint32_t>(pos + 3));
          std::vector<double> want(x.begin(), x.end());
          rope(x.data(), d, pos, theta, neox, factors);
          rope_reference(want, d, pos, theta, neox, factors);
          for (int64_t i = 0; i < d; ++i) {
            // Inputs are O(1); float storage of cos/sin and of the result.
            ASSERT_NEAR(x[i], want[i], 1e-6) << "neox=" << neox << " ff=" << (factors != nullptr)
                                             << " pos=" << pos << " i=" << i;
          }
        }
      }
    }
  }
}

std::vector<float> read_rope_golden(const std::string& name) {
  std::ifstream f(std::string(FRUGAL_TEST_DATA) + "/rope/" + name, std::ios::binary);
  EXPECT_TRUE(f.good()) << "missing golden " << name;
  const std::vector<char> bytes{std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
  std::vector<float> v(bytes.size() / 4);
  std::memcpy(v.data(), bytes.data(), v.size() * 4);
  return v;
}

TEST(RopeGolden, BitExactWithGgmlRopeExt) {
  const int64_t d = 128;
  const int64_t positions[] = {0, 1, 7, 17, 100, 4095, 131071};
  const auto input = read_rope_golden("input.f32");
  const auto ff = read_rope_golden("freq_factors.f32");
  ASSERT_EQ(input.size(), std::size(positions) * d);
  ASSERT_EQ(ff.size(), static_cast<size_t>(d / 2));
  struct Case {
    const char* file;
    bool neox;
    float theta;
    bool use_ff;
  };
  for (const Case& c : {Case{"norm_1e4.f32", false, 10000.0f, false},
                        Case{"norm_5e5_ff.f32", false, 500000.0f, true},
                        Case{"neox_1e6.f32", true, 1000000.0f, false},
                        Case{"neox_1e4_ff.f32", true, 10000.0f, true}}) {
    const auto want = read_rope_golden(c.file);
    ASSERT_EQ(want.size(), input.size()) << c.file;
    for (size_t p = 0; p < std::size(positions); ++p) {
      std::vector<float> x(input.begin() + p * d, input.begin() + (p + 1) * d);  // [D]
      rope(x.data(), d, positions[p], c.theta, c.neox, c.use_ff ? ff.data() : nullptr);
      for (int64_t i = 0; i < d; ++i) {
        ASSERT_EQ(x[i], want[p * d + i]) << c.file << " pos=" << positions[p] << " i=" << i;
      }
    }
  }
}

TEST(Rope, PositionZeroIsIdentityAndNormIsKept) {
  auto x = gaussian(64, 9);
  const auto orig = x;
  rope(x.data(), 64, 0, 10000.0f, true, nullptr);
  EXPECT_EQ(x, orig);
  rope(x.data(), 64, 1234, 10000.0f, false, nullptr);
  double n0 = 0, n1 = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    n0 += double{orig[i]} * orig[i];
    n1 += double{x[i]} * x[i];
  }
  EXPECT_NEAR(n1, n0, 1e-5 * n0);
}

TEST(Softmax, MatchesDoubleFormulaIncludingMaskedEntries) {
  for (int64_t n : {1, 5, 1000}) {
    auto x = gaussian(n, 4, 8.0f);
    if (n > 3) x[2] = -INFINITY;  // a masked position
    std::vector<double> want(n);
    double mx = -INFINITY, sum = 0;
    for (float v : x) mx = std::max(mx, double{v});
    for (int64_t i = 0; i < n; ++i) sum += want[i] = std::exp(x[i] - mx);
    softmax(x.data(), n);
    double total = 0;
    for (int64_t i = 0; i < n; ++i) {
      ASSERT_NEAR(x[i], want[i] / sum, 1e-6 * want[i] / sum + 1e-9) << n << " " << i;
      total += x[i];
    }
    EXPECT_NEAR(total, 1.0, 1e-5);
    if (n > 3) {
      EXPECT_EQ(x[2], 0.0f);
    }
  }
}

TEST(Softmax, LargeLogitsDoNotOverflow) {
  std::vector<float> x = {1000.0f, 999.0f, -1000.0f};
  softmax(x.data(), 3);
  EXPECT_NEAR(x[0], 1.0 / (1.0 + std::exp(-1.0)), 1e-6);
  EXPECT_NEAR(x[1], std::exp(-1.0) / (1.0 + std::exp(-1.0)), 1e-6);
  EXPECT_EQ(x[2], 0.0f);
}

TEST(Swiglu, MatchesDoubleFormula) {
  const auto g = gaussian(1000, 5, 4.0f);
  const auto u = gaussian(1000, 6);
  std::vector<float> out(1000);
  swiglu(g.data(), u.data(), out.data(), 1000);
  for (int i = 0; i < 1000; ++i) {
    const double want = g[i] / (1.0 + std::exp(-double{g[i]})) * u[i];
    ASSERT_NEAR(out[i], want, 1e-6 * std::fabs(want) + 1e-7) << i;
  }
}

}  // namespace
}  // namespace frugal::kernels
