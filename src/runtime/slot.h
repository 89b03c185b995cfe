// runtime::Slot: one conversation's KV cache driven one step at a time, so a
// scheduler can interleave several conversations on the one model (the
// engine's thread pool is not reentrant: one forward at a time). A step is
// either one prefill chunk or one generated token. The sampling, stop-string
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
  // Feeds `ids` to the model after the tokens generated so far, as if the
  // model had written them, and samples on from there. Their text is not
  // emitted (the caller knows it). Only between decode steps.
  Status inject(std::span<const int32_t> ids);
  // Ends the current request; the cache is kept for prefix reuse.
  void cancel() { active_ = false; }

  bool active() const { return active_; }
  bool prefilling() const { return active_ && prompt_pos_ < prompt_.size(); }
  // Tokens of `prompt` already in the cache (the reusable prefix).
  size_t common_prefix(std::span<const int32_t> prompt) const;
  const GenerationStats& stats() const { return stats_; }
  int64_t n_injected() const { return n_injected_; }
  int64_t n_past() const { return cache_.n_past; }

 private:
  StepOutput finish(FinishReason why, bool flush);

  const Engine& engine_;
  int64_t prefill_chunk_;
  model::KvCache cache_;
  std::vector<int32_t> history_;  // tokens whose K/V are in cache_, in order
  std::vector<float> logits_;     // [V]

  bool active_ = false;
  std::vector<int32_t> prompt_;
  size_t prompt_pos_ = 0;
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
