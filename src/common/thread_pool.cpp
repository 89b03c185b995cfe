#include "common/thread_pool.h"

#include <sys/resource.h>

#include <algorithm>

namespace frugal {
namespace {

// Tells the core this is a spin-wait (frees issue slots for the other
// hyperthread, and saves power).
inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Involuntary context switches of the whole process so far (-1 if unknown).
int64_t process_preemptions() {
  rusage ru{};
  if (getrusage(RUSAGE_SELF, &ru) != 0) return -1;
  return static_cast<int64_t>(ru.ru_nivcsw);
}

// More than this many preemptions in kAdaptRuns runs (a few milliseconds of
// decode) means other processes want the cores; a quiet machine shows 0-1.
constexpr int64_t kPreemptionsAllowed = 2;

}  // namespace

ThreadPool::ThreadPool(int n_threads, std::chrono::microseconds spin)
    : n_threads_(std::max(1, n_threads)), spin_(spin) {
  const unsigned hw = std::thread::hardware_concurrency();
  if (hw != 0 && static_cast<unsigned>(n_threads_) > hw) spin_ = std::chrono::microseconds{0};
  if (spin_.count() < 0) spin_ = std::chrono::microseconds{0};
  polling_.store(spin_.count() > 0);
  last_preemptions_ = process_preemptions();
  for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this, i] { worker(i); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true);
  {
    std::lock_guard<std::mutex> lk(mu_);  // a worker between its check and its wait holds mu_
  }
  start_cv_.notify_all();
  for (auto& t : workers_) t.join();
}

template <typename Done>
bool ThreadPool::spin_until(Done done) const {
  if (!polling_.load(std::memory_order_relaxed)) return done();
  const auto deadline = std::chrono::steady_clock::now() + spin_;
  for (;;) {
    // Read the clock only every 64 polls: it costs more than a poll.
    for (int i = 0; i < 64; ++i) {
      if (done()) return true;
      cpu_relax();
    }
    if (std::chrono::steady_clock::now() >= deadline) return done();
  }
}

void ThreadPool::adapt_polling() {
  if (spin_.count() == 0) return;
  if (++runs_since_adapt_ < kAdaptRuns) return;
  runs_since_adapt_ = 0;
  const int64_t now = process_preemptions();
  const bool quiet =
      now >= 0 && last_preemptions_ >= 0 && now - last_preemptions_ <= kPreemptionsAllowed;
  last_preemptions_ = now;
  polling_.store(quiet, std::memory_order_relaxed);
}

void ThreadPool::worker(int index) {
  uint64_t seen = 0;
  for (;;) {
    const auto has_work = [&] { return stop_.load() || generation_.load() != seen; };
    if (!spin_until(has_work)) {
      std::unique_lock<std::mutex> lk(mu_);
      sleeping_workers_.fetch_add(1);
      start_cv_.wait(lk, has_work);
      sleeping_workers_.fetch_sub(1);
    }
    if (stop_.load()) return;
    seen = generation_.load();
    (*job_)(index, n_threads_);
    if (pending_.fetch_sub(1) == 1 && caller_sleeping_.load()) {
      { std::lock_guard<std::mutex> lk(mu_); }  // the caller is in its wait, or sees pending_ == 0
      done_cv_.notify_one();
    }
  }
}

void ThreadPool::run(const std::function<void(int, int)>& fn) {
  if (n_threads_ == 1) {
    fn(0, 1);
    return;
  }
  adapt_polling();
  job_ = &fn;
  pending_.store(n_threads_ - 1, std::memory_order_relaxed);
  generation_.fetch_add(1);  // publishes job_ and pending_
  if (sleeping_workers_.load() > 0) {
    { std::lock_guard<std::mutex> lk(mu_); }  // a worker is in its wait, or sees the new generation
    start_cv_.notify_all();
  }
  fn(0, n_threads_);
  const auto all_done = [&] { return pending_.load() == 0; };
  if (!spin_until(all_done)) {
    std::unique_lock<std::mutex> lk(mu_);
    caller_sleeping_.store(true);
    done_cv_.wait(lk, all_done);
    caller_sleeping_.store(false);
  }
  job_ = nullptr;
}

void ThreadPool::parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  run([&](int ti, int nt) {
    const int64_t chunk = (n + nt - 1) / nt;
    const int64_t b = std::min<int64_t>(n, ti * chunk);
    const int64_t e = std::min<int64_t>(n, b + chunk);
    if (b < e) fn(b, e);
  });
}

}  // namespace frugal
