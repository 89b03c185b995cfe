// Microbenchmark of one layer's attention at decode in the shape of
// R1-Distill-Qwen-1.5B: head_dim 128, 2 KV heads, each with its own rows
// (the cache's head-major layout, model.h), 6 query heads per KV head, one
// new token attending over n positions, on a pool of T threads, the two ways
// model/layers.cpp can run it, alternating:
//   items  one item per KV head with all 6 of its queries, taken by the
//          threads as they go (attend_items; what 2 threads run);
//   split  every head split between the threads by positions (scores) and
//          columns (values), kernels::AttendPhase (attend_token_split).
// ns/qp = time per layer / (12 queries * n positions). Like a model's layers,
// the caches of several layers (at least 256 MiB in all) are visited in turn,
// so K and V come from memory, not from L3 (--hot: one layer, visited again
// and again, to see the kernels' own speed where the cache holds it).
// Not part of the build; build against a Release build dir, e.g.:
//   g++ -std=c++20 -O2 -Isrc bench/kernels/attention_bench.cpp -o /tmp/attention_bench
//     build/libfrugal_{kernels,tensor,common}.a -lfmt -lpthread
// Usage: attention_bench [-t T] [--hot] [n ...]   (default: 2 threads; 512 4096 16384)
#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "common/thread_pool.h"
#include "kernels/cpu/attention.h"
#include "kernels/cpu/dispatch.h"
#include "tensor/fp16.h"

using namespace frugal;

namespace {

constexpr int64_t kD = 128, kHkv = 2, kGroup = 6, kPerItem = 6;

struct Timing {
  double ns_qp[2];  // items, split
};

Timing run(const kernels::KernelTable& tab, ThreadPool& pool, kernels::KvType type, int64_t n,
           bool hot) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  const int64_t row = kHkv * kD;
  const bool half = type == kernels::KvType::kF16;
  const size_t per_layer_bytes =
      static_cast<size_t>(2 * n * row) * kernels::kv_type_size(type);  // K and V
  const size_t n_layers = hot ? 1 : std::max<size_t>(2, (size_t{256} << 20) / per_layer_bytes + 1);
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
  std::vector<float> scratch(  // items: per thread; split: the whole layer's 12 queries
      static_cast<size_t>(kernels::attend_group_scratch_len(kHkv * kGroup, n, kD)));
  size_t l = 0;
  auto head = [&](int64_t g, kernels::AttendGroupArgs& a) {
    const size_t at = l * static_cast<size_t>(n * row) + static_cast<size_t>(g * n * kD);
    a.k = half ? static_cast<const void*>(kh + at) : kf + at;
    a.v = half ? static_cast<const void*>(vh + at) : vf + at;
    a.kv_type = type;
    a.kv_stride = kD;
    a.head_dim = kD;
    a.scale = 0.088f;
    a.order = kernels::ScoreOrder::kSingle;
  };
  std::vector<kernels::AttendQuery> qs(static_cast<size_t>(kHkv * kGroup));
  for (int64_t h = 0; h < kHkv * kGroup; ++h)
    qs[static_cast<size_t>(h)] = {q.data() + h * kD, n, out.data() + h * kD};
  const int64_t per_item = kernels::attend_group_scratch_len(kPerItem, n, kD);
  const int64_t per_head = kernels::attend_group_scratch_len(kGroup, n, kD);
  // Items of kPerItem queries, KV head by KV head, taken by the threads as they go.
  auto items = [&] {
    l = (l + 1) % n_layers;
    std::atomic<int64_t> next{0};
    pool.run([&](int t, int) {
      for (int64_t it = next.fetch_add(1); it < kHkv * kGroup / kPerItem; it = next.fetch_add(1)) {
        kernels::AttendGroupArgs a;
        head(it * kPerItem / kGroup, a);
        a.queries = qs.data() + it * kPerItem;
        a.n_queries = kPerItem;
        a.scratch = scratch.data() + t * per_item;
        kernels::attend_group_with(tab, a);
      }
    });
  };
  // Every head split between the threads in AttendPhase's three phases.
  const int P = pool.size();
  std::vector<float> part_max(static_cast<size_t>(kHkv * P * kGroup)), head_max(qs.size());
  auto split = [&] {
    l = (l + 1) % n_layers;
    std::barrier sync(P);
    const int64_t slice = ((n + P - 1) / P + 31) / 32 * 32, cols = (kD / 8 + P - 1) / P * 8;
    pool.run([&](int t, int) {
      auto args = [&](int64_t g, kernels::AttendPhase ph) {
        kernels::AttendGroupArgs a;
        head(g, a);
        a.queries = qs.data() + g * kGroup;
        a.n_queries = kGroup;
        a.scratch = scratch.data() + g * per_head;
        a.phase = ph;
        return a;
      };
      for (int64_t g = 0; g < kHkv; ++g) {
        auto a = args(g, kernels::AttendPhase::kScores);
        a.begin = std::min(n, t * slice), a.end = std::min(n, a.begin + slice);
        a.maxima = part_max.data() + (g * P + t) * kGroup;
        kernels::attend_group_with(tab, a);
      }
      sync.arrive_and_wait();
      for (int64_t u = kHkv * kGroup * t / P; u < kHkv * kGroup * (t + 1) / P; ++u) {
        const int64_t g = u / kGroup, i = u % kGroup;
        float mx = -1e30f;
        for (int p = 0; p < P; ++p)
          mx = std::max(mx, part_max[static_cast<size_t>((g * P + p) * kGroup + i)]);
        head_max[static_cast<size_t>(u)] = mx;
        auto a = args(g, kernels::AttendPhase::kSoftmax);
        a.begin = i, a.end = i + 1, a.maxima = head_max.data() + g * kGroup;
        kernels::attend_group_with(tab, a);
      }
      sync.arrive_and_wait();
      for (int64_t g = 0; g < kHkv; ++g) {
        auto a = args(g, kernels::AttendPhase::kValues);
        a.begin = std::min(kD, t * cols), a.end = std::min(kD, a.begin + cols);
        kernels::attend_group_with(tab, a);
      }
    });
  };
  items();
  split();
  // Best of five runs of `reps` layers each, the two ways alternating: the
  // machine's noise only adds time.
  const int reps = static_cast<int>(std::max<int64_t>(n_layers, 100000 / n));
  double best[2] = {1e30, 1e30};
  for (int run = 0; run < 5; ++run)
    for (int way = 0; way < 2; ++way) {
      const auto t0 = std::chrono::steady_clock::now();
      for (int r = 0; r < reps; ++r) way == 0 ? items() : split();
      best[way] = std::min(
          best[way], std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
  munmap(half ? static_cast<void*>(kh) : kf, bytes_each);
  munmap(half ? static_cast<void*>(vh) : vf, bytes_each);
  Timing r;
  for (int way = 0; way < 2; ++way)
    r.ns_qp[way] = best[way] / reps * 1e9 / double(kHkv * kGroup * n);
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 2;
  bool hot = false;
  std::vector<int64_t> ns;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "-t" && i + 1 < argc)
      threads = std::atoi(argv[++i]);
    else if (std::string(argv[i]) == "--hot")
      hot = true;
    else
      ns.push_back(std::atoll(argv[i]));
  }
  if (ns.empty()) ns = {512, 4096, 16384};
  ThreadPool pool(threads);
  const kernels::KernelTable& t = kernels::active_kernels();
  std::printf("%d threads, table %s; ns per query-position (one layer: 12 queries x n)\n", threads,
              t.isa);
  std::printf("%-4s %7s %10s %10s\n", "kv", "n", "items", "split");
  for (auto type : {kernels::KvType::kF32, kernels::KvType::kF16})
    for (int64_t n : ns) {
      const Timing r = run(t, pool, type, n, hot);
      std::printf("%-4s %7lld %10.2f %10.2f\n", type == kernels::KvType::kF16 ? "f16" : "f32",
                  static_cast<long long>(n), r.ns_qp[0], r.ns_qp[1]);
    }
}
