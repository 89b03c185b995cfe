// Memory read-bandwidth probe for the roofline figure in bench/RESULTS.md:
// T threads each sum their slice of a 1 GiB buffer, repeatedly, with software
// prefetch 0, 512, 2048 and 4096 bytes ahead; prints the best GB/s (10^9
// bytes/s) over all passes. The roofline must be what memory can deliver, not
// what one loop gets: on the Zen 3 host a plain loop read 27.5 GB/s and
// prefetching 2 KiB ahead 30-32 GB/s, which frugal's Q8_0 decode exceeded
// against the plain figure. Standalone (no frugal code); built by
// bench/side_by_side.py with `g++ -O3 -march=native -pthread`.
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
  for (int p = 0; p < passes * 4; ++p) {
    constexpr size_t kAheadBytes[4] = {0, 512, 2048, 4096};
    const size_t ahead = kAheadBytes[p % 4] / sizeof(uint64_t);  // words
    const bool prefetch = ahead != 0;
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; ++t) {
      ts.emplace_back([&, t] {
        const size_t b = n * t / threads, e = n * (t + 1) / threads;
        // Four independent accumulators so the loop is load-bound, not add-bound.
        uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        size_t i = b;
        for (; i + 4 <= e; i += 4) {
          if (prefetch && i % 8 == 0) __builtin_prefetch(&buf[std::min(i + ahead, e - 1)]);
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
  std::fprintf(stderr,
               "bandwidth: %d threads, %d passes x 4 prefetch distances over %zu MiB, best %.2f GB/s "
               "(checksum %llu)\n",
               threads, passes, mib, best, static_cast<unsigned long long>(check));
  return 0;
}
