// Memory read-bandwidth probe for the roofline figure in bench/RESULTS.md:
// T threads each sum their slice of a 1 GiB buffer, repeatedly, with software
// prefetch 0, 512, 2048 and 4096 bytes ahead into L1 and 2048 and 4096 bytes
// ahead into L2; prints the best GB/s (10^9 bytes/s) over all passes. The
// roofline must be what memory can deliver, not what one loop gets: on the
// Zen 3 host a plain loop read 27.5 GB/s and prefetching 2 KiB ahead 30-32
// GB/s, which frugal's Q8_0 decode exceeded against the plain figure. The L2
// variants came with frugal's decode kernels moving to L2 prefetches
// (kernels/cpu/x86/avx2_common.h, prefetch_l2); on the session-20 host
// (Sapphire-Rapids-class KVM guest) they read a little more than the best L1
// one in the same run (34.1 against 33.6 GB/s). Standalone (no frugal code);
// built by bench/side_by_side.py with `g++ -O3 -march=native -pthread`.
//   usage: bandwidth [threads=1] [passes=10] [MiB=1024]
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::max(1, std::atoi(argv[1])) : 1;
  const int passes = argc > 2 ? std::max(1, std::atoi(argv[2])) : 10;
  const size_t mib = argc > 3 ? std::max(1, std::atoi(argv[3])) : 1024;
  const size_t n = mib * 1024 * 1024 / sizeof(uint64_t);
  std::vector<uint64_t> buf(n);                                       // [n]
  for (size_t i = 0; i < n; ++i) buf[i] = i * 0x9E3779B97F4A7C15ULL;  // touch every page
  std::vector<uint64_t> sums(threads * 8);                            // one cache line per thread
  double best = 0;
  constexpr int kVariants = 6;
  for (int p = 0; p < passes * kVariants; ++p) {
    constexpr size_t kAheadBytes[kVariants] = {0, 512, 2048, 4096, 2048, 4096};
    const size_t ahead = kAheadBytes[p % kVariants] / sizeof(uint64_t);  // words
    const bool prefetch = ahead != 0;
    const bool to_l2 = p % kVariants >= 4;  // the last two: prefetch into L2 (T1)
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; ++t) {
      ts.emplace_back([&, t] {
        const size_t b = n * t / threads, e = n * (t + 1) / threads;
        // Four independent accumulators so the loop is load-bound, not add-bound.
        uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        size_t i = b;
        for (; i + 4 <= e; i += 4) {
          if (prefetch && i % 8 == 0) {
            const uint64_t* q = &buf[std::min(i + ahead, e - 1)];
            if (to_l2)
              __builtin_prefetch(q, 0, 2);  // PREFETCHT1
            else
              __builtin_prefetch(q);  // PREFETCHT0
          }
          a0 += buf[i], a1 += buf[i + 1], a2 += buf[i + 2], a3 += buf[i + 3];
        }
        for (; i < e; ++i) a0 += buf[i];
        sums[t * 8] = a0 + a1 + a2 + a3;
      });
    }
    for (auto& t : ts) t.join();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, n * sizeof(uint64_t) / s / 1e9);
  }
  uint64_t check = 0;
  for (int t = 0; t < threads; ++t) check += sums[t * 8];
  std::printf("%.3f\n", best);
  std::fprintf(
      stderr,
      "bandwidth: %d threads, %d passes x %d prefetch variants over %zu MiB, best %.2f GB/s "
      "(checksum %llu)\n",
      threads, passes, kVariants, mib, best, static_cast<unsigned long long>(check));
  return 0;
}
