// server::Scheduler: decides which request runs and when (DESIGN: scheduler
// decides, engine executes). It owns N runtime::Slots and one thread that, in
// each round, advances every active slot by one step (a prefill chunk or one
// token) with a single batched forward pass over all of them (continuous
// batching: the weights are read once per round, so N streams cost little
// more than one while decoding is memory-bound). Requests wait
// in a bounded FIFO queue for a free slot; a full queue is refused at once.
//
// A Job is shared by the HTTP thread that submitted it and the scheduler:
// the scheduler appends deltas and finally sets `done`; the HTTP thread
// drains them and calls Scheduler::cancel() when its client is gone, which
// frees a queue place at once and a slot after the round in progress.
//
// Reasoning budget: the scheduler runs the reasoning splitter, counts the
// tokens generated while the splitter is inside reasoning, and when the
// budget is reached it injects the tokens of "\n</think>\n\n" so the model
// goes on with its answer in the same slot.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "chat/reasoning_splitter.h"
#include "runtime/engine.h"
#include "runtime/slot.h"

namespace frugal::server {

struct Job {
  // Set by the submitter before submit().
  runtime::GenerateRequest req;
  bool split_reasoning = false;      // run the splitter (chat); off for raw completions
  bool starts_in_reasoning = false;  // the prompt opened <think>
  int32_t reasoning_budget = -1;     // -1: none
  bool ignore_eos = false;
  std::vector<int32_t> close_reasoning_ids;  // tokens of "\n</think>\n\n"

  // Written by the scheduler under `mu`.
  std::mutex mu;
  std::condition_variable cv;
  std::string raw;        // undelivered raw text (tags included)
  std::string reasoning;  // undelivered reasoning text
  std::string content;    // undelivered content text
  bool done = false;
  bool failed = false;  // done with an internal error (message below, no user content)
  std::string error;
  runtime::FinishReason finish = runtime::FinishReason::Stop;
  int64_t n_prompt = 0;
  int64_t n_completion = 0;  // generated + injected tokens
  int64_t n_reasoning = 0;   // tokens generated inside reasoning

  std::atomic<bool> cancelled{false};       // set by the HTTP side (use cancel())
  std::atomic<int64_t> cancelled_at_ns{0};  // steady clock, when cancel() ran
  void cancel();
};

struct SchedulerStats {
  int64_t active_slots = 0;
  int64_t queued = 0;
  int64_t tokens_generated = 0;     // total since start
  int64_t prompt_tokens = 0;        // total since start
  double max_cancel_to_free_s = 0;  // slowest cancel() -> slot or queue entry freed
};

class Scheduler {
 public:
  // max_request_s: wall time a job may spend in a slot before it is ended
  // with finish reason "length" (0: no cap).
  Scheduler(const runtime::Engine& engine, int n_slots, int max_queue, double max_request_s = 0);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Queues `job`; false when the queue is full (the caller answers 429/503).
  bool submit(std::shared_ptr<Job> job);
  // The HTTP side's client is gone: marks the job cancelled and, if it is
  // still queued, takes it out of the queue now (a running job's slot is
  // freed after the round in progress, the soonest the slot is not in use).
  void cancel(Job& job);
  SchedulerStats stats() const;
  int n_slots() const { return static_cast<int>(slots_.size()); }

 private:
  struct Running {
    std::shared_ptr<Job> job;
    chat::ReasoningSplitter splitter;
    bool closed_reasoning = false;
    std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  };
  void loop();
  // Moves queued jobs to free slots (best prefix match first). Under mu_.
  void assign_locked();
  // First half of slot i's step (sampling, text, reasoning budget); true
  // when the slot became free.
  bool prepare_step(size_t i);
  // Runs every slot's pending tokens in one Model::forward_batch.
  void run_pending();
  void finish_job(size_t i, const std::string& error);
  // Ends a queued job that was cancelled before it got a slot. Under mu_.
  void drop_cancelled_locked(Job& job);
  void note_freed_locked(const Job& job);

  const runtime::Engine& engine_;
  std::vector<std::unique_ptr<runtime::Slot>> slots_;
  std::vector<std::unique_ptr<Running>> running_;  // per slot; null when free
  size_t max_queue_;
  double max_request_s_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Job>> queue_;
  int64_t n_active_ = 0;
  int64_t tokens_generated_ = 0;
  int64_t prompt_tokens_ = 0;
  double max_cancel_to_free_s_ = 0;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace frugal::server
