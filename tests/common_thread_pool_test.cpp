// ThreadPool: every index runs exactly once, and no wake-up is lost on any
// of the four paths (worker spins or sleeps, caller spins or sleeps). A
// lost wake-up shows as a hang, which ctest's timeout turns into a failure.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "common/thread_pool.h"

namespace frugal {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;

void expect_each_index_once(ThreadPool& pool, int64_t n) {
  std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
  pool.parallel_for(n, [&](int64_t b, int64_t e) {
    ASSERT_LE(0, b);
    ASSERT_LT(b, e);
    ASSERT_LE(e, n);
    for (int64_t i = b; i < e; ++i) hits[static_cast<size_t>(i)].fetch_add(1);
  });
  for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[static_cast<size_t>(i)].load(), 1) << "i=" << i;
}

TEST(ThreadPool, ParallelForCoversEveryIndexOnce) {
  for (int threads : {1, 2, 3, 4}) {
    for (microseconds spin : {microseconds{0}, ThreadPool::kDefaultSpin}) {
      ThreadPool pool(threads, spin);
      EXPECT_EQ(pool.size(), threads);
      for (int64_t n : {0, 1, 2, 3, 5, 17, 1000}) expect_each_index_once(pool, n);
    }
  }
}

TEST(ThreadPool, RunGivesEachThreadItsIndex) {
  ThreadPool pool(3);
  std::vector<std::atomic<int>> calls(3);
  pool.run([&](int ti, int nt) {
    EXPECT_EQ(nt, 3);
    calls[static_cast<size_t>(ti)].fetch_add(1);
  });
  for (auto& c : calls) EXPECT_EQ(c.load(), 1);
}

// Back-to-back runs: the workers find each job while they poll.
TEST(ThreadPool, ManyShortRunsWhileSpinning) {
  ThreadPool pool(2, ThreadPool::kDefaultSpin);
  std::atomic<int64_t> sum{0};
  for (int k = 0; k < 20000; ++k) {
    pool.parallel_for(2, [&](int64_t b, int64_t e) { sum.fetch_add(e - b); });
  }
  EXPECT_EQ(sum.load(), 40000);
}

// No polling at all: every handoff goes through the condition variables.
TEST(ThreadPool, ManyShortRunsBlocking) {
  ThreadPool pool(2, microseconds{0});
  EXPECT_EQ(pool.spin_budget().count(), 0);
  std::atomic<int64_t> sum{0};
  for (int k = 0; k < 5000; ++k) {
    pool.parallel_for(2, [&](int64_t b, int64_t e) { sum.fetch_add(e - b); });
  }
  EXPECT_EQ(sum.load(), 10000);
}

// Gaps longer than the polling time: the workers are asleep when each job
// arrives and must be woken.
TEST(ThreadPool, WakesSleepingWorkers) {
  ThreadPool pool(3, microseconds{50});
  std::atomic<int64_t> sum{0};
  for (int k = 0; k < 30; ++k) {
    std::this_thread::sleep_for(milliseconds(2));
    pool.parallel_for(3, [&](int64_t b, int64_t e) { sum.fetch_add(e - b); });
  }
  EXPECT_EQ(sum.load(), 90);
}

// A worker slower than the polling time: the caller sleeps and must be woken.
TEST(ThreadPool, WakesSleepingCaller) {
  ThreadPool pool(2, microseconds{50});
  for (int k = 0; k < 20; ++k) {
    std::atomic<int> done{0};
    pool.run([&](int ti, int) {
      if (ti == 1) std::this_thread::sleep_for(milliseconds(2));
      done.fetch_add(1);
    });
    ASSERT_EQ(done.load(), 2);  // run() returned only after both finished
  }
}

TEST(ThreadPool, NoPollingWithMoreThreadsThanHardware) {
  const unsigned hw = std::thread::hardware_concurrency();
  if (hw == 0) GTEST_SKIP() << "hardware_concurrency unknown";
  ThreadPool pool(static_cast<int>(hw) + 1, ThreadPool::kDefaultSpin);
  EXPECT_EQ(pool.spin_budget().count(), 0);
  expect_each_index_once(pool, 100);
  ThreadPool fits(1, ThreadPool::kDefaultSpin);
  EXPECT_EQ(fits.spin_budget(), ThreadPool::kDefaultSpin);
}

// Threads that want the cores make the process preempted; the pool must
// stop polling (it would burn the time slices its peer needs).
TEST(ThreadPool, StopsPollingWhileTheCoresAreContended) {
  const unsigned hw = std::thread::hardware_concurrency();
  if (hw == 0) GTEST_SKIP() << "hardware_concurrency unknown";
  ThreadPool pool(2, ThreadPool::kDefaultSpin);
  if (pool.spin_budget().count() == 0) GTEST_SKIP() << "one hardware thread: the pool never polls";
  EXPECT_TRUE(pool.polling());
  std::atomic<bool> stop{false};
  std::vector<std::thread> busy;
  for (unsigned i = 0; i < 2 * hw; ++i) {
    busy.emplace_back([&] {
      while (!stop.load(std::memory_order_relaxed)) {
      }
    });
  }
  // Enough runs of about a millisecond each that the scheduler has to
  // preempt someone many times per adaptation window.
  for (int k = 0; k < 4 * ThreadPool::kAdaptRuns && pool.polling(); ++k) {
    pool.run([](int, int) {
      const auto until = std::chrono::steady_clock::now() + milliseconds(1);
      while (std::chrono::steady_clock::now() < until) {
      }
    });
  }
  EXPECT_FALSE(pool.polling());
  stop.store(true);
  for (auto& t : busy) t.join();
  expect_each_index_once(pool, 10);  // still correct while blocking
}

// Destroying a pool whose workers poll, sleep, or never got a job.
TEST(ThreadPool, DestroysCleanlyInEveryState) {
  for (int k = 0; k < 50; ++k) {
    ThreadPool fresh(2);
  }
  for (int k = 0; k < 20; ++k) {
    ThreadPool polling(2);
    expect_each_index_once(polling, 4);
  }
  ThreadPool sleeping(2, microseconds{10});
  expect_each_index_once(sleeping, 4);
  std::this_thread::sleep_for(milliseconds(5));
}

}  // namespace
}  // namespace frugal
