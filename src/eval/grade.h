// Grading replies and summarizing an eval, for replies produced by our
// engine (runner.h) or elsewhere (`frugal eval --grade`, e.g. by
// tools/eval_llama_cpp.py): both go through grade(), so both engines are
// scored by the same code.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "eval/checkers.h"
#include "eval/tasks.h"

namespace frugal::eval {

// One reply as generated, before grading. Token counts of -1 are unknown.
struct Completion {
  std::string id;    // the problem's id
  std::string text;  // raw generated text (tags included where the model wrote them)
  bool starts_in_reasoning = false;  // the prompt opened <think> (R1 templates)
  int64_t prompt_tokens = -1;
  int64_t completion_tokens = -1;
  int64_t reasoning_tokens = -1;  // generated tokens up to and including </think>
  std::string finish_reason = "stop";
  double decode_s = 0;         // time spent generating (0: unknown)
  int64_t decode_tokens = -1;  // tokens generated in decode_s (-1: completion_tokens - 1)
};

struct Graded {
  Completion completion;
  std::string reasoning;         // never scored
  std::string content;           // what the checkers read
  bool reasoning_closed = true;  // false: <think> never closed, so no answer
  Score score;
};

// Splits the text into reasoning and content (chat::ReasoningSplitter: an
// unclosed <think> leaves no content, hence no answer) and scores the content.
// A reply with finish_reason "length" is scored with allow_unboxed = false:
// cut off mid-sentence, its last number is not an answer.
Graded grade(const Problem& p, Completion c, const ScoreOptions& opt = {});

struct Interval {
  double lo = 0, hi = 0;
};
// Wilson score interval for k successes in n trials (z = 1.96: 95 %). Unlike
// the normal approximation it stays inside [0, 1] and is sensible at k = 0 or
// k = n with small n.
Interval wilson_interval(int64_t k, int64_t n, double z = 1.959963984540054);

struct Summary {
  int64_t n = 0;
  int64_t n_correct = 0;
  int64_t n_format_ok = 0;
  int64_t n_unclosed_reasoning = 0;
  double accuracy = 0;
  Interval ci95;
  double mean_prompt_tokens = 0;      // over replies that report it
  double mean_completion_tokens = 0;  // over replies that report it
  double mean_reasoning_tokens = 0;
  double mean_answer_tokens = 0;  // completion - reasoning
  double decode_tps = 0;          // sum of decode tokens / sum of decode seconds
  std::map<std::string, int64_t> finish_reasons;
  std::map<std::string, int64_t> reasons;
};
Summary summarize(std::span<const Graded> graded);

// The summary as a JSON object (`--json`; callers add their own context) and
// as a few lines of text.
nlohmann::json summary_to_json(const Summary& s);
std::string summary_to_text(const Summary& s);

// One --output record: the completion fields above plus the grading.
std::string graded_to_json_line(const Problem& p, const Graded& g);
// Reads completions from a JSONL file: "id" and "text" required; the other
// Completion fields optional under the same names (also what
// graded_to_json_line writes, so --output files can be graded again).
Result<std::vector<Completion>> load_completions_jsonl(const std::string& path);

}  // namespace frugal::eval
