#include "server/scheduler.h"

#include <algorithm>

namespace frugal::server {

Scheduler::Scheduler(const runtime::Engine& engine, int n_slots, int max_queue)
    : engine_(engine), max_queue_(static_cast<size_t>(std::max(0, max_queue))) {
  n_slots = std::max(1, n_slots);
  for (int i = 0; i < n_slots; ++i) {
    slots_.push_back(std::make_unique<runtime::Slot>(engine));
    running_.emplace_back();
  }
  thread_ = std::thread([this] { loop(); });
}

Scheduler::~Scheduler() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
  // Whoever still waits gets an answer rather than hanging.
  auto fail = [](Job& job) {
    std::lock_guard jl(job.mu);
    job.done = true;
    job.failed = true;
    job.error = "the server is shutting down";
    job.cv.notify_all();
  };
  for (auto& r : running_)
    if (r) fail(*r->job);
  for (auto& j : queue_) fail(*j);
}

bool Scheduler::submit(std::shared_ptr<Job> job) {
  {
    std::lock_guard lock(mu_);
    // Requests that find a free slot never wait in the queue; only the
    // overflow beyond the slots counts against --queue.
    const size_t free_slots = slots_.size() - static_cast<size_t>(n_active_);
    if (queue_.size() >= max_queue_ + free_slots) return false;
    queue_.push_back(std::move(job));
  }
  cv_.notify_all();
  return true;
}

SchedulerStats Scheduler::stats() const {
  std::lock_guard lock(mu_);
  return SchedulerStats{n_active_, static_cast<int64_t>(queue_.size()), tokens_generated_,
                        prompt_tokens_};
}

void Scheduler::assign_locked() {
  while (!queue_.empty()) {
    std::shared_ptr<Job> job = std::move(queue_.front());
    queue_.pop_front();
    if (job->cancelled.load()) {
      std::lock_guard jl(job->mu);
      job->done = true;
      job->finish = runtime::FinishReason::Cancelled;
      job->cv.notify_all();
      continue;
    }
    // The free slot whose cache shares the longest prefix with this prompt
    // (a multi-turn chat lands where its earlier turns are cached).
    size_t best = slots_.size();
    size_t best_common = 0;
    for (size_t i = 0; i < slots_.size(); ++i) {
      if (running_[i]) continue;
      const size_t c = slots_[i]->common_prefix(job->req.prompt);
      if (best == slots_.size() || c > best_common) best = i, best_common = c;
    }
    if (best == slots_.size()) {  // no free slot: put it back
      queue_.push_front(std::move(job));
      return;
    }
    if (auto st = slots_[best]->start(job->req, job->ignore_eos); !st.ok()) {
      std::lock_guard jl(job->mu);
      job->done = true;
      job->failed = true;
      job->error = st.error().message;  // names sizes and ids only, never text
      job->cv.notify_all();
      continue;
    }
    {
      std::lock_guard jl(job->mu);
      job->n_prompt = static_cast<int64_t>(job->req.prompt.size());
    }
    prompt_tokens_ += static_cast<int64_t>(job->req.prompt.size());
    running_[best] =
        std::make_unique<Running>(Running{std::move(job), chat::ReasoningSplitter(false), false});
    running_[best]->splitter = chat::ReasoningSplitter(running_[best]->job->starts_in_reasoning);
    ++n_active_;
  }
}

void Scheduler::finish_job(size_t i, const std::string& error) {
  Running& r = *running_[i];
  Job& job = *r.job;
  const auto& stats = slots_[i]->stats();
  {
    std::lock_guard jl(job.mu);
    job.done = true;
    job.failed = !error.empty();
    job.error = error;
    job.n_completion = stats.n_generated + slots_[i]->n_injected();
    job.cv.notify_all();
  }
  running_[i].reset();
  std::lock_guard lock(mu_);
  --n_active_;
}

bool Scheduler::advance(size_t i) {
  Running& r = *running_[i];
  Job& job = *r.job;
  runtime::Slot& slot = *slots_[i];
  if (job.cancelled.load()) {
    slot.cancel();
    {
      std::lock_guard jl(job.mu);
      job.finish = runtime::FinishReason::Cancelled;
    }
    finish_job(i, "");
    return true;
  }
  auto out = slot.step();
  if (!out.ok()) {
    finish_job(i, "generation failed: " + out.error().message);
    return true;
  }
  chat::ReasoningDelta delta;
  if (job.split_reasoning) {
    delta = r.splitter.push(out->text);
  } else {
    delta.content = out->text;
  }
  bool reasoning_token = false;
  if (out->generated && job.split_reasoning && r.splitter.in_reasoning()) reasoning_token = true;
  std::string raw = out->text;

  // Budget reached inside reasoning: close it and let the model answer.
  const bool in_decode = slot.active() && !slot.prefilling();
  if (in_decode && job.split_reasoning && !r.closed_reasoning && job.reasoning_budget >= 0 &&
      r.splitter.in_reasoning()) {
    int64_t n_reasoning;
    {
      std::lock_guard jl(job.mu);
      n_reasoning = job.n_reasoning + (reasoning_token ? 1 : 0);
    }
    if (n_reasoning >= job.reasoning_budget) {
      r.closed_reasoning = true;
      if (auto st = slot.inject(job.close_reasoning_ids); !st.ok()) {
        finish_job(i, "generation failed: " + st.error().message);
        return true;
      }
      static constexpr std::string_view kClose = "\n</think>\n\n";
      auto d2 = r.splitter.push(kClose);
      delta.reasoning += d2.reasoning;
      delta.content += d2.content;
      raw += kClose;
    }
  }
  if (out->finished && job.split_reasoning) {
    auto d2 = r.splitter.finish();
    delta.reasoning += d2.reasoning;
    delta.content += d2.content;
  }
  {
    std::lock_guard jl(job.mu);
    job.raw += raw;
    job.reasoning += delta.reasoning;
    job.content += delta.content;
    if (reasoning_token) ++job.n_reasoning;
    if (out->finished) job.finish = out->finish;
    job.cv.notify_all();
  }
  if (out->generated) {
    std::lock_guard lock(mu_);
    ++tokens_generated_;
  }
  if (out->finished || !slot.active()) {
    if (!out->finished) {
      std::lock_guard jl(job.mu);
      job.finish = runtime::FinishReason::Length;  // inject() found the context full
    }
    finish_job(i, "");
    return true;
  }
  return false;
}

void Scheduler::loop() {
  for (;;) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stop_ || n_active_ > 0 || !queue_.empty(); });
      if (stop_) return;
      assign_locked();
    }
    // Slots are touched only by this thread; mu_ guards the queue and counters.
    for (size_t i = 0; i < slots_.size(); ++i) {
      if (!running_[i]) continue;
      if (advance(i)) {
        std::lock_guard lock(mu_);
        assign_locked();  // a freed slot takes the next queued job at once
      }
    }
  }
}

}  // namespace frugal::server
