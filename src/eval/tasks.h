// Eval problems: deterministic generators (multi-digit arithmetic, Countdown)
// and a loader for JSONL files of {question, answer} (GSM8K's format). Each
// problem carries the exact user message sent to the model and what its
// answer is checked against, so a problems file written by --dump-problems is
// everything another engine needs to run the same eval.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "eval/checkers.h"

namespace frugal::eval {

enum class TaskKind {
  Arithmetic,  // "What is 482 * 917?"; answer: an integer
  Countdown,   // reach `target` with `numbers`; answer: an equation
  Numeric,     // a question from a file; answer: a number (GSM8K)
};
std::string_view task_kind_name(TaskKind k);  // "arith", "countdown", "numeric"

struct Problem {
  std::string id;  // "arith-0", "countdown-3", "numeric-12" (index in the file)
  TaskKind kind = TaskKind::Arithmetic;
  std::string prompt;  // the exact user message
  std::string answer;  // expected number as text (Countdown: the target)
  // Countdown only.
  std::vector<int64_t> numbers;
  int64_t target = 0;
  std::string solution;  // one equation that reaches the target (never shown to the model)
};

// R1's recommended instruction for math problems (DeepSeek-R1 model card).
inline constexpr std::string_view kMathInstruction =
    "Please reason step by step, and put your final answer within \\boxed{}.";

struct ArithmeticOptions {
  int digits = 3;           // digits of each operand, 1..9
  std::string ops = "+-*";  // operators to draw from
};
struct CountdownOptions {
  int min_numbers = 3;  // 2..6
  int max_numbers = 4;
  int64_t max_number = 99;   // numbers are drawn from 1..max_number
  int64_t max_target = 999;  // targets are integers in 1..max_target
};

// Problem i depends only on (seed, i): the first n problems of a run with
// -n 100 are those of a run with -n n. Portable: our own uniform draw over
// std::mt19937_64 (whose output the standard fixes), not the
// implementation-defined std::uniform_int_distribution.
Result<std::vector<Problem>> generate_arithmetic(uint64_t seed, int n,
                                                 const ArithmeticOptions& opt = {});
// Countdown targets are reachable by construction: a random expression tree
// over the drawn numbers (every number once; + - * /, intermediate values
// positive integers) is evaluated, and its value becomes the target; the
// expression is kept as `solution`.
Result<std::vector<Problem>> generate_countdown(uint64_t seed, int n,
                                                const CountdownOptions& opt = {});

// Limits on files read by the loaders below.
inline constexpr size_t kMaxProblemsFileBytes = 64u << 20;
inline constexpr size_t kMaxProblemLineBytes = 64u << 10;
inline constexpr size_t kMaxProblems = 100000;

// A JSONL file of {"question": "...", "answer": "... #### 42"} (GSM8K's
// format; "answer" may also be a plain number or a JSON number). Blank lines
// are skipped; any other bad line is an error naming the file's line number.
Result<std::vector<Problem>> load_qa_jsonl(const std::string& path);

// The problems file that write_problems_jsonl writes (--dump-problems), read
// back for --grade.
Result<std::vector<Problem>> load_problems_jsonl(const std::string& path);
std::string problem_to_json_line(const Problem& p);  // one line, no newline

// The expected answer of a numeric problem as a Number.
Result<Number> expected_number(const Problem& p);
// Scores the content of a reply to `p` with the checker of its task.
Score score_problem(const Problem& p, std::string_view content, const ScoreOptions& opt = {});

}  // namespace frugal::eval
