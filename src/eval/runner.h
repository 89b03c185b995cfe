// Runs eval problems through the one inference path (runtime::Engine /
// Session, DESIGN §2) and grades each reply as it finishes.
#pragma once

#include <atomic>
#include <functional>
#include <span>
#include <vector>

#include "common/result.h"
#include "eval/grade.h"
#include "eval/tasks.h"
#include "runtime/engine.h"

namespace frugal::eval {

struct RunOptions {
  // Problem i is sampled with seed sampling.seed + i, so a problem's reply
  // does not depend on which problems ran before it.
  runtime::SamplingParams sampling;
  int32_t max_tokens = 2048;  // per reply; -1: until the context is full
  ScoreOptions score;
  const std::atomic<bool>* stop = nullptr;  // set: finish the current reply and return
};

// Called after each problem with its index and grading.
using ProgressFn = std::function<void(size_t index, const Graded& g)>;

// One user turn per problem, rendered with the model's chat template. The
// result has one entry per problem run (fewer than `problems` only if *stop
// was set).
Result<std::vector<Graded>> run_eval(const runtime::Engine& engine,
                                     std::span<const Problem> problems, const RunOptions& opt,
                                     const ProgressFn& progress = nullptr);

// Generated tokens up to and including the one that closes the reasoning
// block (all of them if it never closes), found by running the splitter over
// the tokens' texts one at a time.
int64_t count_reasoning_tokens(const tokenizer::Tokenizer& tok, std::span<const int32_t> tokens,
                               bool starts_in_reasoning);

}  // namespace frugal::eval
