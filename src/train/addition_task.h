// The synthetic task of the tiny R1 pipeline (frugal-train pipeline): adding
// two whole numbers, written as R1-Zero writes its replies — reasoning inside
// <think>…</think>, then the answer inside <answer>…</answer>.
//
// A completion comes in one of two styles, which is what makes the task a
// miniature of R1-Zero's finding (reinforcement learning on checked answers
// teaches a model to reason, and its replies grow longer):
//
//   reasoned  a digit-by-digit scratchpad, right to left, each line the column
//             sum and the answer's digits so far:
//               "8+6=14 4\n7+5+1=13 34\n4+3+1=8 834\n</think>\n<answer>834</answer>"
//   direct    the sum guessed in one line:
//               "478+356=834\n</think>\n<answer>834</answer>"
//   careless  a direct guess that forgets every carry, the classic slip:
//               "478+356=724\n</think>\n<answer>724</answer>"
//
// The pipeline's pretraining corpus is mostly direct replies, most of them
// careless, as text written in a hurry is; its reasoned replies are always
// right. A model pretrained on it answers long sums wrongly by default (its
// likeliest reply forgets a carry) although it can reason them out, which is
// R1-Zero's starting point: GRPO's checked reward has to find and reinforce
// the careful reasoning the model rarely chooses.
//
// Problems are split into train and held-out sets by a hash of (a, b), so a
// held-out problem never appears in pretraining, GRPO or distillation data.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace frugal::train {

struct AdditionProblem {
  int64_t a = 0;
  int64_t b = 0;
  int64_t sum() const { return a + b; }
};

enum class Split { Train, HeldOut };
enum class ReplyStyle { Reasoned, Direct, Careless };

// True when (a, b) belongs to `split` (one problem in 8 is held out).
bool in_split(const AdditionProblem& p, Split split);

// `n` distinct problems of `split`, each with two operands of the same
// number of digits d, d drawn uniformly from [min_digits, max_digits] (1 to
// 9; one-digit operands include 0), deterministically from `seed`. Fewer
// than `n` when the range does not hold that many.
std::vector<AdditionProblem> addition_problems(uint64_t seed, int n, int min_digits, int max_digits,
                                               Split split);

// The user's message: "478+356".
std::string addition_question(const AdditionProblem& p);
// The reply after the generation prompt's "<think>\n", up to and including
// "</answer>" (the end-of-sentence token follows it in training data).
std::string addition_reply(const AdditionProblem& p, ReplyStyle style);
// The sum with every carry dropped (478 + 356 -> 724).
int64_t carry_less_sum(const AdditionProblem& p);
// Which style a generated reply took: Direct when it starts by restating the
// question ("478+356="), careless or not; Reasoned otherwise.
ReplyStyle reply_style(std::string_view reply, const AdditionProblem& p);

}  // namespace frugal::train
