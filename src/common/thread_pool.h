// A persistent pool of worker threads for data-parallel loops. The calling
// thread takes part, so ThreadPool(1) runs everything inline with no threads.
// Kernels receive the pool as an argument; there is no global pool.
//
// Waiting is spin-then-block. Decode runs over a hundred parallel loops per
// token (five per layer at 1.5B, tens of microseconds each; about 400 when
// this was measured), and a worker woken through a
// condition variable starts late by a futex wake and a reschedule: with
// block-only waits both cores were idle 15 % of the Q4_0 decode time on the
// 2-core Zen 3 host (perf stat: 1.69 CPUs utilized). So a worker polls the
// job counter for up to spin_budget before it sleeps, and the caller polls
// for the workers' completion the same way; an idle pool sleeps, so a server
// between requests costs no CPU.
//
// Polling is only right when the pool's threads have their cores. With more
// threads than hardware threads the pool never polls. When other processes
// compete for the cores, a polling thread burns the time slice its peer
// needs and the scheduler then favours the competitors (Q4_0 decode with two
// busy loops beside it: 14.3 t/s blocking, 4.2 t/s polling for 200 us); so
// every kAdaptRuns runs the caller reads the process's involuntary context
// switches, and while they grow the pool blocks at once.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace frugal {

class ThreadPool {
 public:
  // Polling time before a waiting thread sleeps.
  static constexpr std::chrono::microseconds kDefaultSpin{200};
  // Runs between two looks at the involuntary context switches.
  static constexpr int kAdaptRuns = 64;

  explicit ThreadPool(int n_threads) : ThreadPool(n_threads, kDefaultSpin) {}
  // spin = 0 makes every wait block at once (the pool before spinning).
  ThreadPool(int n_threads, std::chrono::microseconds spin);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }
  // The polling time asked for (0 when the pool has more threads than the
  // machine has hardware threads), and whether polling is on now (off while
  // other processes take the cores).
  std::chrono::microseconds spin_budget() const { return spin_; }
  bool polling() const { return polling_.load(std::memory_order_relaxed); }

  // Calls fn(thread_index, n_threads) once on each of the n_threads threads
  // (the caller is thread 0) and returns when all have finished. Not
  // reentrant: one run() at a time per pool, from one caller thread.
  void run(const std::function<void(int, int)>& fn);

  // Splits [0, n) into contiguous ranges, one per thread, and calls
  // fn(begin, end) for each non-empty range.
  void parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& fn);

 private:
  void worker(int index);
  // Polls until done() holds or the spin budget is spent; true if done.
  template <typename Done>
  bool spin_until(Done done) const;
  // Turns polling off while the process is being preempted (see above).
  void adapt_polling();

  int n_threads_;
  std::chrono::microseconds spin_;
  std::atomic<bool> polling_{false};
  int runs_since_adapt_ = 0;      // caller thread only
  int64_t last_preemptions_ = 0;  // caller thread only
  std::vector<std::thread> workers_;

  // Job handoff: the caller writes job_, sets pending_ and then bumps
  // generation_; a worker that sees a new generation reads job_. The caller
  // does not touch job_ again until pending_ is 0. All atomic accesses but
  // one are sequentially consistent (the wake-up argument below needs it).
  const std::function<void(int, int)>* job_ = nullptr;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};

  // Sleeping. Each side announces that it is about to sleep (sleeping
  // workers, caller_sleeping_) before its last check under mu_, and the
  // other side notifies when it sees the announcement after its own update
  // (all sequentially consistent), so no wake-up is lost.
  std::mutex mu_;
  std::condition_variable start_cv_;
  std::condition_variable done_cv_;
  std::atomic<int> sleeping_workers_{0};
  std::atomic<bool> caller_sleeping_{false};
};

}  // namespace frugal
