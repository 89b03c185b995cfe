// GRPO rewards: the eval checkers behind R1-Zero's format gate and the
// optional language-consistency term.
#include <gtest/gtest.h>

#include "train/rewards.h"

namespace frugal::train {
namespace {

RewardProblem numeric(const char* answer) {
  RewardProblem p;
  p.kind = RewardProblem::Kind::Numeric;
  p.expected = *eval::parse_number(answer);
  return p;
}

RewardProblem countdown(std::vector<int64_t> numbers, int64_t target) {
  RewardProblem p;
  p.kind = RewardProblem::Kind::Countdown;
  p.numbers = std::move(numbers);
  p.target = target;
  return p;
}

TEST(Rewards, TinyZeroLevelsBehindTheThinkGate) {
  const RewardOptions opt;  // the prompt opened <think>
  const auto p = numeric("42");
  EXPECT_EQ(score_completion("6*7 is 42.\n</think>\n\nThe answer is \\boxed{42}.", p, opt).total,
            1.0);
  // Boxed but wrong: the format level only.
  EXPECT_EQ(score_completion("hmm\n</think>\n\\boxed{41}", p, opt).total, 0.1);
  // The right number only inside the reasoning: no answer.
  const Reward in_cot = score_completion("it is 42\n</think>\nI am not sure.", p, opt);
  EXPECT_EQ(in_cot.total, 0.0);
  EXPECT_EQ(in_cot.score.reason, eval::Reason::NoAnswer);
  // Reasoning never closed: nothing counts, even a correct box.
  const Reward open = score_completion("\\boxed{42} and on and on", p, opt);
  EXPECT_FALSE(open.think_closed);
  EXPECT_EQ(open.total, 0.0);
  // Closing an empty reasoning block is not reasoning.
  EXPECT_EQ(score_completion("</think>\\boxed{42}", p, opt).total, 0.0);
  // Unboxed correct answer: correct (the checker's fallback to the last number).
  EXPECT_EQ(score_completion("6*7\n</think>\nIt is 42", p, opt).total, 1.0);
}

TEST(Rewards, CompletionThatOpensItsOwnThinkBlock) {
  RewardOptions opt;
  opt.prompt_opens_think = false;
  const auto p = numeric("12");
  EXPECT_EQ(score_completion("<think>3*4</think>\\boxed{12}", p, opt).total, 1.0);
  EXPECT_EQ(score_completion("\\boxed{12}", p, opt).total, 0.0);  // no reasoning at all
  opt.require_think = false;
  EXPECT_EQ(score_completion("\\boxed{12}", p, opt).total, 1.0);
}

TEST(Rewards, CountdownUsesTheStrictChecker) {
  const RewardOptions opt;
  const auto p = countdown({25, 5, 3}, 60);
  EXPECT_EQ(score_completion("try\n</think>\n\\boxed{(25 - 5) * 3}", p, opt).total, 1.0);
  const Reward reused = score_completion("x</think>\\boxed{25 + 25 + 5 + 5}", p, opt);
  EXPECT_EQ(reused.score.reason, eval::Reason::NumberReused);
  EXPECT_EQ(reused.total, 0.1);
  const Reward div0 = score_completion("x</think>\\boxed{25 / (5 - 5) * 3}", p, opt);
  EXPECT_EQ(div0.total, 0.1);
}

TEST(Rewards, LanguageConsistencyIsTheShareOfThePromptsScript) {
  RewardOptions opt;
  opt.language_weight = 0.5;
  opt.prompt = "What is six times seven?";
  const auto p = numeric("42");
  const Reward en = score_completion("six times seven\n</think>\n\\boxed{42}", p, opt);
  EXPECT_DOUBLE_EQ(en.language, 1.0);
  EXPECT_DOUBLE_EQ(en.total, 1.5);
  // Reasoning half in Chinese (4 Han letters, 4 Latin letters).
  const Reward mixed = score_completion("六乘以七 abcd\n</think>\n\\boxed{42}", p, opt);
  EXPECT_DOUBLE_EQ(mixed.language, 0.5);
  EXPECT_DOUBLE_EQ(mixed.total, 1.25);
  // Digits and symbols are in no script.
  EXPECT_DOUBLE_EQ(script_share("6 * 7 = 42 !!", Script::Latin), 1.0);
}

TEST(Rewards, ScriptsOfCommonLanguages) {
  EXPECT_EQ(main_script("Hello, wörld"), Script::Latin);
  EXPECT_EQ(main_script("Привет мир"), Script::Cyrillic);
  EXPECT_EQ(main_script("六乘以七等于多少"), Script::Cjk);
  EXPECT_EQ(main_script("ひらがなと漢字"), Script::Cjk);
  EXPECT_EQ(main_script("안녕하세요"), Script::Hangul);
  EXPECT_EQ(main_script("مرحبا"), Script::Arabic);
  EXPECT_EQ(main_script("नमस्ते"), Script::Devanagari);
  EXPECT_EQ(main_script("1 + 2 = 3"), Script::None);
  // Invalid UTF-8 is skipped, not a crash.
  EXPECT_EQ(main_script(std::string("ab\xff\xfe"
                                    "cd")),
            Script::Latin);
}

}  // namespace
}  // namespace frugal::train
