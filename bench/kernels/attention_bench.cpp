// Microbenchmark of kernels::attend_group in the decode shape of
// R1-Distill-Qwen-1.5B: head_dim 128, 2 KV heads interleaved in the cache
// (rows 256 elements apart), 6 query heads per KV head, one new token
// attending over n positions. One thread runs what one layer's attention
// does at decode (layers.cpp: items of 3 queries, KV head by KV head), so
//   ns/qp = time / (12 queries * n positions)
// is the per query-position cost; GB/s counts K and V bytes once per item.
// Like a model's layers, the caches of several layers (at least 256 MiB in
// all) are visited in turn, so K and V come from memory, not from L3.
// Not part of the build; build against a Release build dir, e.g.:
//   g++ -std=c++20 -O2 -Isrc bench/kernels/attention_bench.cpp -o /tmp/attention_bench
//     build/libfrugal_{kernels,tensor,common}.a -lfmt -lpthread
// Usage: attention_bench [n ...]   (default: 512 4096 16384)
#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "kernels/cpu/attention.h"
#include "kernels/cpu/dispatch.h"
#include "tensor/fp16.h"

using namespace frugal;

namespace {

constexpr int64_t kD = 128, kHkv = 2, kGroup = 6, kPerItem = 3;

double run(const kernels::KernelTable& t, kernels::KvType type, int64_t n, double* gbps) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  const int64_t row = kHkv * kD;
  const bool half = type == kernels::KvType::kF16;
  const size_t per_layer_bytes =
      static_cast<size_t>(2 * n * row) * kernels::kv_type_size(type);  // K and V
  const size_t n_layers = std::max<size_t>(2, (size_t{256} << 20) / per_layer_bytes + 1);
  const size_t elems = static_cast<size_t>(n * row) * n_layers;
  const size_t bytes_each = elems * kernels::kv_type_size(type);
  auto alloc = [&] {  // like the cache's pages (common/zeroed_pages.h)
    void* p = mmap(nullptr, bytes_each, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) std::abort();
    return p;
  };
  float* kf = half ? nullptr : static_cast<float*>(alloc());
  float* vf = half ? nullptr : static_cast<float*>(alloc());
  uint16_t* kh = half ? static_cast<uint16_t*>(alloc()) : nullptr;
  uint16_t* vh = half ? static_cast<uint16_t*>(alloc()) : nullptr;
  for (size_t i = 0; i < elems; ++i) {
    const float a = u(rng), b = u(rng);
    if (half)
      kh[i] = tensor::fp32_to_fp16(a), vh[i] = tensor::fp32_to_fp16(b);
    else
      kf[i] = a, vf[i] = b;
  }
  std::vector<float> q(static_cast<size_t>(kHkv * kGroup * kD)), out(q.size());  // [12, D]
  for (auto& x : q) x = u(rng);
  std::vector<float> scratch(
      static_cast<size_t>(kernels::attend_group_scratch_len(kPerItem, n, kD)));
  size_t l = 0;
  auto layer = [&] {
    l = (l + 1) % n_layers;
    for (int64_t g = 0; g < kHkv; ++g)
      for (int64_t h0 = g * kGroup; h0 < (g + 1) * kGroup; h0 += kPerItem) {
        kernels::AttendQuery qs[kPerItem];
        for (int64_t i = 0; i < kPerItem; ++i)
          qs[i] = {q.data() + (h0 + i) * kD, n, out.data() + (h0 + i) * kD};
        kernels::AttendGroupArgs a;
        const size_t at = l * static_cast<size_t>(n * row) + static_cast<size_t>(g * kD);
        a.k = half ? static_cast<const void*>(kh + at) : kf + at;
        a.v = half ? static_cast<const void*>(vh + at) : vf + at;
        a.kv_type = type;
        a.kv_stride = row;
        a.head_dim = kD;
        a.scale = 0.088f;
        a.order = kernels::ScoreOrder::kSingle;
        a.queries = qs;
        a.n_queries = kPerItem;
        a.scratch = scratch.data();
        kernels::attend_group_with(t, a);
      }
  };
  layer();
  // Best of five runs of `reps` layers: the machine's noise only adds time.
  const int reps = static_cast<int>(std::max<int64_t>(n_layers, 100000 / n));
  double s = 1e30;
  for (int run = 0; run < 5; ++run) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int r = 0; r < reps; ++r) layer();
    s = std::min(s, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  const double per_layer = s / reps;
  const double bytes = double(kHkv * (kGroup / kPerItem)) * 2.0 * double(n) * kD *
                       static_cast<double>(kernels::kv_type_size(type));
  munmap(half ? static_cast<void*>(kh) : kf, bytes_each);
  munmap(half ? static_cast<void*>(vh) : vf, bytes_each);
  *gbps = bytes / per_layer / 1e9;
  return per_layer * 1e9 / double(kHkv * kGroup * n);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int64_t> ns;
  for (int i = 1; i < argc; ++i) ns.push_back(std::atoll(argv[i]));
  if (ns.empty()) ns = {512, 4096, 16384};
  std::printf("%-6s %-4s %7s %9s %7s\n", "table", "kv", "n", "ns/qp", "GB/s");
  for (const kernels::KernelTable* t : kernels::available_kernels())
    for (auto type : {kernels::KvType::kF32, kernels::KvType::kF16})
      for (int64_t n : ns) {
        double gbps = 0;
        const double ns_qp = run(*t, type, n, &gbps);
        std::printf("%-6s %-4s %7lld %9.2f %7.2f\n", t->isa,
                    type == kernels::KvType::kF16 ? "f16" : "f32", static_cast<long long>(n), ns_qp,
                    gbps);
      }
}
