#include "runtime/slot.h"

#include <algorithm>
#include <cmath>

namespace frugal::runtime {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

}  // namespace

Slot::Slot(const Engine& engine, int64_t prefill_chunk)
    : engine_(engine),
      prefill_chunk_(std::max<int64_t>(1, prefill_chunk)),
      cache_(engine.model().hparams(), engine.n_ctx(), engine.kv_type()),
      logits_(static_cast<size_t>(engine.model().hparams().n_vocab)) {}

size_t Slot::common_prefix(std::span<const int32_t> prompt) const {
  size_t common = 0;
  while (common < history_.size() && common < prompt.size() && history_[common] == prompt[common])
    ++common;
  return common;
}

Status Slot::start(const GenerateRequest& req, bool ignore_eos) {
  FRUGAL_TRY(req.sampling.validate());
  const auto& tok = engine_.tokenizer();
  const int64_t n_ctx = engine_.n_ctx();
  const int64_t n_prompt = static_cast<int64_t>(req.prompt.size());
  if (n_prompt == 0) return make_error("the prompt is empty");
  if (n_prompt >= n_ctx)
    return make_error("the prompt is {} tokens but the context holds {}", n_prompt, n_ctx);
  for (int32_t id : req.prompt)
    if (!tok.valid(id)) return make_error("prompt token id {} is outside the vocabulary", id);
  if (req.max_tokens < -1) return make_error("max_tokens must be >= -1, got {}", req.max_tokens);

  t0_ = Clock::now();
  // Reuse the cached prefix; at least one token must run to produce logits.
  size_t common = common_prefix(req.prompt);
  if (common == req.prompt.size()) --common;
  cache_.n_past = static_cast<int64_t>(common);
  history_.resize(common);

  prompt_ = req.prompt;
  prompt_pos_ = common;
  max_tokens_ = req.max_tokens;
  banned_.clear();
  if (ignore_eos)
    for (int32_t id = 0; id < tok.n_vocab(); ++id)
      if (tok.is_eog(id)) banned_.push_back(id);
  n_generated_ = 0;
  n_injected_ = 0;
  sampler_.emplace(req.sampling, static_cast<int32_t>(engine_.model().hparams().n_vocab));
  decoder_.emplace(tok);
  stops_.emplace(req.stop);
  stats_ = GenerationStats{};
  stats_.n_prompt = n_prompt;
  stats_.n_prompt_reused = static_cast<int64_t>(common);
  active_ = true;
  return {};
}

StepOutput Slot::finish(FinishReason why, bool flush) {
  StepOutput out;
  out.finished = true;
  out.finish = why;
  if (flush) {
    // Release text held back for UTF-8 completion or a possible stop string.
    auto o = stops_->push(decoder_->flush());
    out.text = o.text + (o.stopped ? std::string() : stops_->flush());
    if (o.stopped) out.finish = FinishReason::Stop;
  }
  stats_.n_generated = n_generated_;
  if (n_generated_ > 0) stats_.decode_s = seconds_since(t_first_);
  active_ = false;
  return out;
}

Result<StepOutput> Slot::step() {
  FRUGAL_ASSIGN_OR_RETURN(StepOutput out, prepare());
  if (has_pending()) {
    model::SeqForward f = pending_forward();
    FRUGAL_TRY(
        complete(engine_.model().forward(f.tokens, *f.cache, f.logits, false, engine_.pool())));
  }
  return out;
}

model::SeqForward Slot::pending_forward() {
  return model::SeqForward{pending_, &cache_, logits_};
}

Status Slot::fail_forward(const Status& st) {
  cache_.n_past = 0;  // the cache may hold part of this step; start clean
  history_.clear();
  pending_.clear();
  active_ = false;
  return st;
}

Status Slot::complete(const Status& forward) {
  if (pending_.empty()) return make_error("complete() without a pending step");
  if (!forward.ok()) return fail_forward(forward);
  history_.insert(history_.end(), pending_.begin(), pending_.end());
  if (pending_prompt_) {
    prompt_pos_ += pending_.size();
    if (prompt_pos_ == prompt_.size()) stats_.prefill_s = seconds_since(t0_);
  }
  pending_.clear();
  pending_prompt_ = false;
  return {};
}

Result<StepOutput> Slot::prepare() {
  if (!active_) return make_error("step() without an active request");
  if (!pending_.empty()) return make_error("step() while the previous step is still pending");
  if (prompt_pos_ < prompt_.size()) {
    const size_t n =
        std::min<size_t>(static_cast<size_t>(prefill_chunk_), prompt_.size() - prompt_pos_);
    pending_.assign(prompt_.begin() + static_cast<std::ptrdiff_t>(prompt_pos_),
                    prompt_.begin() + static_cast<std::ptrdiff_t>(prompt_pos_ + n));
    pending_prompt_ = true;
    return StepOutput{};
  }

  if (max_tokens_ >= 0 && n_generated_ >= max_tokens_) return finish(FinishReason::Length, true);
  const auto& tok = engine_.tokenizer();
  for (int32_t b : banned_) logits_[static_cast<size_t>(b)] = -INFINITY;
  const int32_t id = sampler_->sample(logits_);
  if (n_generated_ == 0) {
    t_first_ = Clock::now();
    stats_.ttft_s = seconds_since(t0_);
  }
  if (tok.is_eog(id)) return finish(FinishReason::Stop, true);
  sampler_->accept(id);
  ++n_generated_;
  auto o = stops_->push(decoder_->push(id));
  if (o.stopped) {
    StepOutput out = finish(FinishReason::Stop, false);
    out.text = std::move(o.text);
    out.generated = true;
    return out;
  }
  const bool full = cache_.n_past >= engine_.n_ctx();
  const bool at_max = max_tokens_ >= 0 && n_generated_ >= max_tokens_;
  if (full || at_max) {
    StepOutput out = finish(FinishReason::Length, true);
    out.text = o.text + out.text;
    out.generated = true;
    return out;
  }
  pending_.assign(1, id);
  pending_prompt_ = false;
  StepOutput out;
  out.text = std::move(o.text);
  out.generated = true;
  return out;
}

Status Slot::inject(std::span<const int32_t> ids) {
  if (!active_ || prompt_pos_ < prompt_.size())
    return make_error("inject() needs a request past its prompt");
  if (ids.empty()) return {};
  for (int32_t id : ids)
    if (!engine_.tokenizer().valid(id))
      return make_error("injected token id {} is outside the vocabulary", id);
  const int64_t after = cache_.n_past + static_cast<int64_t>(pending_.size() + ids.size());
  if (after >= engine_.n_ctx()) {
    pending_.clear();
    finish(FinishReason::Length, false);
    return {};
  }
  for (int32_t id : ids) sampler_->accept(id);
  n_injected_ += static_cast<int64_t>(ids.size());
  // After prepare(), the injected tokens follow the sampled one in the same
  // forward; otherwise the sampled token is already in the cache and they
  // run now.
  const bool was_pending = !pending_.empty();
  pending_.insert(pending_.end(), ids.begin(), ids.end());
  if (was_pending) return {};
  return complete(engine_.model().forward(pending_, cache_, logits_, false, engine_.pool()));
}

}  // namespace frugal::runtime
