#include "server/scheduler.h"

#include <algorithm>
#include <chrono>

namespace frugal::server {

namespace {
int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

void Job::cancel() {
  int64_t zero = 0;
  cancelled_at_ns.compare_exchange_strong(zero, now_ns());
  cancelled = true;
}

void Scheduler::note_freed_locked(const Job& job) {
  const int64_t at = job.cancelled_at_ns.load();
  if (at != 0) max_cancel_to_free_s_ = std::max(max_cancel_to_free_s_, (now_ns() - at) * 1e-9);
}

void Scheduler::drop_cancelled_locked(Job& job) {
  note_freed_locked(job);
  std::lock_guard jl(job.mu);
  job.done = true;
  job.finish = runtime::FinishReason::Cancelled;
  job.cv.notify_all();
}

Scheduler::Scheduler(const runtime::Engine& engine, int n_slots, int max_queue,
                     double max_request_s)
    : engine_(engine),
      max_queue_(static_cast<size_t>(std::max(0, max_queue))),
      max_request_s_(max_request_s) {
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

void Scheduler::cancel(Job& job) {
  job.cancel();
  std::lock_guard lock(mu_);
  const auto it = std::find_if(queue_.begin(), queue_.end(),
                               [&](const std::shared_ptr<Job>& j) { return j.get() == &job; });
  if (it == queue_.end()) return;
  drop_cancelled_locked(job);
  queue_.erase(it);
}

SchedulerStats Scheduler::stats() const {
  std::lock_guard lock(mu_);
  return SchedulerStats{n_active_, static_cast<int64_t>(queue_.size()), tokens_generated_,
                        prompt_tokens_, max_cancel_to_free_s_};
}

void Scheduler::assign_locked() {
  // Clients that left while waiting give their queue place up at once.
  std::erase_if(queue_, [this](const std::shared_ptr<Job>& j) {
    if (!j->cancelled.load()) return false;
    drop_cancelled_locked(*j);
    return true;
  });
  while (!queue_.empty()) {
    std::shared_ptr<Job> job = std::move(queue_.front());
    queue_.pop_front();
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
    if (max_request_s_ > 0)
      running_[best]->deadline = std::chrono::steady_clock::now() +
                                 std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                     std::chrono::duration<double>(max_request_s_));
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
  std::lock_guard lock(mu_);
  note_freed_locked(job);
  running_[i].reset();
  --n_active_;
}

bool Scheduler::prepare_step(size_t i) {
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
  if (std::chrono::steady_clock::now() >= r.deadline) {
    // --max-request-seconds: the answer so far is delivered, cut like max_tokens.
    const runtime::StepOutput out = slot.stop(runtime::FinishReason::Length);
    chat::ReasoningDelta d;
    if (job.split_reasoning) {
      d = r.splitter.push(out.text);
      auto d2 = r.splitter.finish();
      d.reasoning += d2.reasoning;
      d.content += d2.content;
    } else {
      d.content = out.text;
    }
    {
      std::lock_guard jl(job.mu);
      job.raw += out.text;
      job.reasoning += d.reasoning;
      job.content += d.content;
      job.finish = out.finish;
    }
    finish_job(i, "");
    return true;
  }
  auto out = slot.prepare();
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

void Scheduler::run_pending() {
  std::vector<size_t> idx;
  std::vector<model::SeqForward> seqs;
  for (size_t i = 0; i < slots_.size(); ++i) {
    if (!running_[i] || !slots_[i]->has_pending()) continue;
    idx.push_back(i);
    seqs.push_back(slots_[i]->pending_forward());
  }
  if (seqs.empty()) return;
  auto complete = [&](size_t k, const Status& st) {
    if (auto c = slots_[idx[k]]->complete(st); !c.ok())
      finish_job(idx[k], "generation failed: " + c.error().message);
  };
  const Status st = engine_.model().forward_batch(seqs, engine_.pool());
  if (st.ok() || seqs.size() == 1) {
    for (size_t k = 0; k < seqs.size(); ++k) complete(k, st);
    return;
  }
  // The batch changed no cache; run each alone so only the failing one ends.
  for (size_t k = 0; k < seqs.size(); ++k) {
    const auto& f = seqs[k];
    complete(k, engine_.model().forward(f.tokens, *f.cache, f.logits, false, engine_.pool()));
  }
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
    // Every active slot samples (or picks its next prompt chunk), then one
    // forward pass runs all their tokens: the weights are read once per round
    // however many streams are running.
    bool freed = false;
    for (size_t i = 0; i < slots_.size(); ++i)
      if (running_[i]) freed |= prepare_step(i);
    run_pending();
    if (freed) {
      std::lock_guard lock(mu_);
      assign_locked();  // freed slots take the next queued jobs at once
    }
  }
}

}  // namespace frugal::server
