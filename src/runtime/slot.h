// runtime::Slot: one conversation's KV cache driven one step at a time, so a
// scheduler can run several conversations on the one model. A step is either
// one prefill chunk or one generated token. For continuous batching a step
// has two halves: prepare() does everything but the forward pass and leaves
// its tokens in pending_forward(); the scheduler runs the pending tokens of
// all slots in one Model::forward_batch and hands the result to complete().
// step() is prepare + forward + complete for one slot alone. The sampling, stop-string
// and end-of-generation rules are Session::generate's; Slot adds inject(),
// which feeds tokens the model did not choose (a forced "</think>").
//
// A Slot keeps its cache between requests and reuses the longest common
// prefix of the next prompt, like Session.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "runtime/engine.h"
#include "runtime/stop_strings.h"

namespace frugal::runtime {

struct StepOutput {
  std::string text;        // text released by this step (may be empty)
  bool generated = false;  // this step sampled a token (not a prefill chunk)
  bool finished = false;   // the request is over; `finish` says why
  FinishReason finish = FinishReason::Stop;
};

class Slot {
 public:
  // prefill_chunk: most prompt tokens per step (small values keep other
  // slots' streams moving while a long prompt is read).
  explicit Slot(const Engine& engine, int64_t prefill_chunk = 64);

  // Validates `req` and makes it current; nothing runs until step().
  // ignore_eos: never sample an end-of-generation token (benchmarks, tests
  // that need a long generation).
  Status start(const GenerateRequest& req, bool ignore_eos = false);
  // One prefill chunk or one token. Error: the model failed (cache reset).
  Result<StepOutput> step();
  // First half of a step: samples (decode) or picks the next prompt chunk
  // (prefill) and leaves the tokens to run pending. Nothing is pending when
  // the output says finished.
  Result<StepOutput> prepare();
  bool has_pending() const { return !pending_.empty(); }
  // The pending tokens as one sequence of a Model::forward_batch.
  model::SeqForward pending_forward();
  // Second half: `forward` is how running the pending tokens went. On error
  // the cache is reset and the request ends.
  Status complete(const Status& forward);
  // Feeds `ids` to the model after the tokens generated so far, as if the
  // model had written them, and samples on from there. Their text is not
  // emitted (the caller knows it). Between decode steps, or after prepare()
  // (then they run with the pending token in the same forward).
  Status inject(std::span<const int32_t> ids);
  // Ends the current request; the cache is kept for prefix reuse.
  void cancel() { active_ = false; }
  // Ends the current request between steps as if it had run out of tokens:
  // the text held back (a partial character, a possible stop string) is
  // released and stats() is final. For a caller's own limits (wall time).
  StepOutput stop(FinishReason why) { return finish(why, true); }

  bool active() const { return active_; }
  bool prefilling() const { return active_ && prompt_pos_ < prompt_.size(); }
  // Tokens of `prompt` already in the cache (the reusable prefix).
  size_t common_prefix(std::span<const int32_t> prompt) const;
  const GenerationStats& stats() const { return stats_; }
  int64_t n_injected() const { return n_injected_; }
  int64_t n_past() const { return cache_.n_past; }

 private:
  StepOutput finish(FinishReason why, bool flush);
  Status fail_forward(const Status& st);

  const Engine& engine_;
  int64_t prefill_chunk_;
  model::KvCache cache_;
  std::vector<int32_t> history_;  // tokens whose K/V are in cache_, in order
  std::vector<float> logits_;     // [V]

  bool active_ = false;
  std::vector<int32_t> prompt_;
  size_t prompt_pos_ = 0;
  std::vector<int32_t> pending_;  // tokens prepare() left for the forward pass
  bool pending_prompt_ = false;   // pending_ is a prompt chunk
  int32_t max_tokens_ = -1;
  std::vector<int32_t> banned_;  // end-of-generation ids masked when ignore_eos
  int64_t n_generated_ = 0;
  int64_t n_injected_ = 0;
  std::optional<Sampler> sampler_;
  std::optional<tokenizer::StreamDecoder> decoder_;
  std::optional<StopMatcher> stops_;
  GenerationStats stats_;
  std::chrono::steady_clock::time_point t0_, t_first_;
};

}  // namespace frugal::runtime
