// Microbenchmark of kernels::matmul_with per kernel table on the matrix shapes
// of Qwen2.5-0.5B (n_in x n_out): 896x896 (q/o), 896x4864 (gate/up),
// 4864x896 (down), 896x151936 (output). Random weights (random code bytes,
// moderate scales), random activations.
//   decode  (T = 1):  GB/s of weight bytes streamed (the roofline for decode)
//   prefill (T = 16): GFLOP/s, 2 * n_in * n_out * T per call
// Not part of the build (bench/ has no CMake target); build against a
// Release build dir, e.g.:
//   g++ -std=c++20 -O2 -Isrc bench/kernels/matmul_bench.cpp -o /tmp/matmul_bench
//     build-simd-rel/libfrugal_{kernels,tensor,gguf,common}.a -lfmt -lpthread
// Usage: matmul_bench [type ...]   (default: Q4_K Q6_K Q5_0 Q8_0)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "gguf/ggml_type.h"
#include "kernels/cpu/dispatch.h"
#include "kernels/cpu/matmul.h"
#include "tensor/fp16.h"

using namespace frugal;
using gguf::GgmlType;

namespace {

// Offsets of the f16 scale fields in one block (tensor/blocks.h).
std::vector<int> f16_fields(GgmlType t) {
  switch (t) {
    case GgmlType::Q4_0:
    case GgmlType::Q5_0:
    case GgmlType::Q8_0:
      return {0};
    case GgmlType::Q4_1:
    case GgmlType::Q5_1:
    case GgmlType::Q4_K:
    case GgmlType::Q5_K:
      return {0, 2};
    case GgmlType::Q6_K:
      return {208};
    default:
      return {};
  }
}

std::vector<uint8_t> random_weights(GgmlType t, int64_t n_in, int64_t n_out) {
  std::mt19937 rng(7);
  const uint64_t block = gguf::type_traits(t)->type_size;
  std::vector<uint8_t> w(*gguf::row_size(t, n_in) * n_out);  // [n_out, row_bytes]
  for (auto& b : w) b = static_cast<uint8_t>(rng());
  const uint16_t h = tensor::fp32_to_fp16(0.01f);
  if (t == GgmlType::F16) {
    for (size_t i = 0; i < w.size(); i += 2) std::memcpy(&w[i], &h, 2);
  }
  for (uint64_t b = 0; b < w.size() / block; ++b)
    for (int off : f16_fields(t)) std::memcpy(&w[b * block + off], &h, 2);
  return w;
}

double seconds_per_call(const kernels::KernelTable& table, const kernels::WeightView& w,
                        const float* x, float* y, int64_t T, ThreadPool& pool) {
  using Clock = std::chrono::steady_clock;
  kernels::matmul_with(table, w, x, y, T, pool);  // warm caches and scratch
  int reps = 0;
  const auto t0 = Clock::now();
  double el = 0;
  do {
    kernels::matmul_with(table, w, x, y, T, pool);
    ++reps;
    el = std::chrono::duration<double>(Clock::now() - t0).count();
  } while (el < 0.3);
  return el / reps;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<GgmlType> types = {GgmlType::Q4_K, GgmlType::Q6_K, GgmlType::Q5_0, GgmlType::Q8_0};
  if (argc > 1) {
    types.clear();
    for (int i = 1; i < argc; ++i) {
      for (uint32_t id = 0; id < kernels::kKernelTypeSlots; ++id) {
        if (gguf::type_name(static_cast<GgmlType>(id)) == argv[i])
          types.push_back(static_cast<GgmlType>(id));
      }
    }
  }
  const int64_t shapes[][2] = {{896, 896}, {896, 4864}, {4864, 896}, {896, 151936}};
  std::printf("%-5s %-12s %-5s %3s | %12s %12s | %14s %14s\n", "type", "n_in x n_out", "isa", "thr",
              "T=1 ms", "T=1 GB/s", "T=16 ms", "T=16 GFLOP/s");
  for (GgmlType t : types) {
    for (const auto& s : shapes) {
      const int64_t n_in = s[0], n_out = s[1];
      if (!gguf::row_size(t, n_in)) continue;  // K-quants need n_in % 256 == 0
      const auto wb = random_weights(t, n_in, n_out);
      const kernels::WeightView w{t, wb.data(), n_in, n_out, *gguf::row_size(t, n_in)};
      if (!kernels::check_weight(w).ok()) continue;
      std::mt19937 rng(3);
      std::normal_distribution<float> nd(0, 1);
      std::vector<float> x(16 * n_in), y(16 * n_out);  // [16, n_in], [16, n_out]
      for (auto& v : x) v = nd(rng);
      for (const kernels::KernelTable* table : kernels::available_kernels()) {
        for (int threads : {1, 2}) {
          ThreadPool pool(threads);
          const double d = seconds_per_call(*table, w, x.data(), y.data(), 1, pool);
          const double p = seconds_per_call(*table, w, x.data(), y.data(), 16, pool);
          std::printf("%-5s %5lldx%-6lld %-5s %3d | %12.3f %12.2f | %14.3f %14.2f\n",
                      std::string(gguf::type_name(t)).c_str(), static_cast<long long>(n_in),
                      static_cast<long long>(n_out), table->isa, threads, d * 1e3,
                      wb.size() / d * 1e-9, p * 1e3, 2.0 * n_in * n_out * 16 / p * 1e-9);
          std::fflush(stdout);
        }
      }
    }
  }
}
