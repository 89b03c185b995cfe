// The eval checkers (src/eval/checkers.h) on tricky replies. Reference: the
// expected values are worked out by hand from the rules documented in
// checkers.h (exact arithmetic over small integers and rationals), and the
// GSM8K answer format of the dataset card ("... #### 42").
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "eval/checkers.h"
#include "eval/grade.h"
#include "eval/tasks.h"

namespace {

using namespace frugal::eval;

Number num(const std::string& s) {
  auto n = parse_number(s);
  EXPECT_TRUE(n.has_value()) << s;
  return n.value_or(Number{});
}

Score numeric(const std::string& content, const std::string& expected, ScoreOptions opt = {}) {
  return score_numeric(content, num(expected), opt);
}

TEST(EvalNumbers, ParsesWrittenForms) {
  struct Case {
    const char* text;
    bool integer;
    const char* canon;  // integer digits, or "" for decimals
    double value;
  } cases[] = {
      {"42", true, "42", 42},
      {"-3", true, "-3", -3},
      {"1,234", true, "1234", 1234},
      {"1,234,567", true, "1234567", 1234567},
      {"3.50", false, "", 3.5},
      {"42.0", true, "42", 42},  // zeros after the point: an integer
      {"$42$", true, "42", 42},
      {"**42**", true, "42", 42},
      {"42.", true, "42", 42},
      {"\\$1,000", true, "1000", 1000},
      {"007", true, "7", 7},
      {"-0", true, "0", 0},
      {"\\frac{3}{4}", false, "", 0.75},
      {"\\dfrac{8}{2}", true, "4", 4},
      {"-\\frac{1}{2}", false, "", -0.5},
      {"3/4", false, "", 0.75},
      {"12/4", true, "3", 3},
      {"\xe2\x88\x92"
       "5",
       true, "-5", -5},  // U+2212 minus
      {"50\\%", true, "50", 50},
      {"123456789012345678901234567890", true, "123456789012345678901234567890",
       1.2345678901234568e29},
  };
  for (const auto& c : cases) {
    auto n = parse_number(c.text);
    ASSERT_TRUE(n.has_value()) << c.text;
    EXPECT_EQ(n->is_integer, c.integer) << c.text;
    if (c.integer) {
      EXPECT_EQ(n->integer, c.canon) << c.text;
    }
    EXPECT_DOUBLE_EQ(n->value, c.value) << c.text;
  }
  for (const char* bad : {"", "abc", "4 2x", "1/0", "\\frac{1}{0}", "--3", "3..5", "1,23"})
    EXPECT_FALSE(parse_number(bad).has_value()) << bad;
}

TEST(EvalNumbers, IntegersCompareExactlyDecimalsWithTolerance) {
  // Integers: digit strings, at any length (a double would call these equal).
  EXPECT_FALSE(numbers_equal(num("9007199254740993"), num("9007199254740992")));
  EXPECT_TRUE(numbers_equal(num("9007199254740993"), num("9,007,199,254,740,993")));
  EXPECT_TRUE(numbers_equal(num("3.50"), num("3.5")));
  EXPECT_TRUE(numbers_equal(num("0.5"), num("1/2")));
  EXPECT_TRUE(numbers_equal(num("0.3333333"), num("1/3")));  // 1e-7 relative
  EXPECT_FALSE(numbers_equal(num("0.33"), num("1/3")));
  EXPECT_FALSE(numbers_equal(num("3.51"), num("3.5")));
  EXPECT_TRUE(numbers_equal(num("-0"), num("0")));
  EXPECT_FALSE(numbers_equal(num("-3"), num("3")));
}

TEST(EvalExtract, LastBoxedWithBalancedBraces) {
  EXPECT_EQ(last_boxed("first \\boxed{1} then \\boxed{2}").value(), "2");
  EXPECT_EQ(last_boxed("\\boxed{\\frac{1}{2}}").value(), "\\frac{1}{2}");
  EXPECT_EQ(last_boxed("\\boxed {7}").value(), "7");
  // An unclosed box does not count; the last complete one does.
  EXPECT_EQ(last_boxed("\\boxed{3} and \\boxed{4").value(), "3");
  EXPECT_FALSE(last_boxed("\\boxed{4").has_value());
  EXPECT_FALSE(last_boxed("no box, 42").has_value());
  // Escaped braces are text, not nesting.
  EXPECT_EQ(last_boxed("\\boxed{\\{1\\}}").value(), "\\{1\\}");
  // A box inside a box: the outer one closes last.
  EXPECT_EQ(last_boxed("\\boxed{\\boxed{5}}").value(), "\\boxed{5}");
}

TEST(EvalExtract, LastNumberInText) {
  auto last = [](const char* s) { return last_number(s).value_or(Number{}).value; };
  EXPECT_EQ(last("The total is 1,234 apples."), 1234);
  EXPECT_EQ(last("So 5 - 3 = 2"), 2);
  EXPECT_EQ(last("the answer is -3."), -3);
  EXPECT_EQ(last("x-3"), 3);  // binary minus: not a sign
  EXPECT_EQ(last("costs $3.50."), 3.5);
  EXPECT_EQ(last("**Answer: 42**"), 42);
  EXPECT_EQ(last("it is 3/4"), 0.75);
  EXPECT_FALSE(last_number("no digits here").has_value());
}

TEST(EvalScore, NumericTrickyReplies) {
  // Several boxes: the last wins.
  auto s = numeric("Maybe \\boxed{41}. No wait: \\boxed{42}", "42");
  EXPECT_TRUE(s.correct);
  EXPECT_TRUE(s.format_ok);
  EXPECT_EQ(s.extracted, "42");
  EXPECT_EQ(s.reason, Reason::Correct);
  EXPECT_FALSE(numeric("\\boxed{42} ... actually \\boxed{41}", "42").correct);
  // Nested braces inside the box.
  EXPECT_TRUE(numeric("\\boxed{\\frac{3}{4}}", "0.75").correct);
  EXPECT_TRUE(numeric("\\boxed{\\text{42}}", "42").correct);
  EXPECT_TRUE(numeric("\\boxed{x = 42}", "42").correct);
  // Commas, negatives, decimals, decorations.
  EXPECT_TRUE(numeric("\\boxed{1,234}", "1234").correct);
  EXPECT_TRUE(numeric("\\boxed{-3}", "-3").correct);
  EXPECT_FALSE(numeric("\\boxed{3}", "-3").correct);
  EXPECT_TRUE(numeric("\\boxed{3.50}", "3.5").correct);
  EXPECT_TRUE(numeric("The answer is $42$.", "42").correct);
  EXPECT_TRUE(numeric("**42**", "42").correct);
  // No box: the last number, with format_ok false.
  s = numeric("I computed 6 * 7 which gives 42.", "42");
  EXPECT_TRUE(s.correct);
  EXPECT_FALSE(s.format_ok);
  EXPECT_EQ(s.extracted, "42");
  // ... unless only boxed answers count.
  s = numeric("I computed 6 * 7 which gives 42.", "42", ScoreOptions{false});
  EXPECT_FALSE(s.correct);
  EXPECT_EQ(s.reason, Reason::NoAnswer);
  // No answer at all.
  s = numeric("I am not sure.", "42");
  EXPECT_FALSE(s.correct);
  EXPECT_EQ(s.reason, Reason::NoAnswer);
  EXPECT_EQ(s.extracted, "");
  // A wrong number.
  s = numeric("\\boxed{43}", "42");
  EXPECT_EQ(s.reason, Reason::WrongAnswer);
  EXPECT_TRUE(s.format_ok);
}

TEST(EvalScore, ReasoningIsNeverGraded) {
  // The right number only in the reasoning: no answer. grade() splits first.
  Problem p;
  p.id = "t";
  p.kind = TaskKind::Arithmetic;
  p.answer = "42";
  Completion c;
  c.text = "<think>6*7 = 42, so \\boxed{42}</think>I do not know.";
  Graded g = grade(p, c);
  EXPECT_EQ(g.reasoning, "6*7 = 42, so \\boxed{42}");
  EXPECT_EQ(g.content, "I do not know.");
  EXPECT_FALSE(g.score.correct);
  EXPECT_EQ(g.score.reason, Reason::NoAnswer);
  // Wrong number in the reasoning, right in the content.
  c.text = "<think>maybe 41</think>It is \\boxed{42}.";
  EXPECT_TRUE(grade(p, c).score.correct);
  // R1 style: the prompt opened <think>; the reply starts inside it.
  c.text = "6*7 is 42\n</think>\n\nThe answer is \\boxed{42}.";
  c.starts_in_reasoning = true;
  g = grade(p, c);
  EXPECT_TRUE(g.score.correct);
  EXPECT_TRUE(g.reasoning_closed);
  // Unclosed reasoning: no answer, even with a box inside.
  c.text = "6*7 is \\boxed{42} and I keep thinking";
  g = grade(p, c);
  EXPECT_FALSE(g.reasoning_closed);
  EXPECT_FALSE(g.score.correct);
  EXPECT_EQ(g.score.reason, Reason::NoAnswer);
  EXPECT_EQ(g.content, "");
}

TEST(EvalScore, Gsm8kAnswers) {
  auto a = parse_gsm8k_answer("Tom packs 3 boxes of 24 = <<3*24=72>>72 pens.\n#### 72");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->integer, "72");
  EXPECT_EQ(parse_gsm8k_answer("#### 1,000").value().integer, "1000");
  EXPECT_EQ(parse_gsm8k_answer("#### -5").value().integer, "-5");
  EXPECT_EQ(parse_gsm8k_answer("17").value().integer, "17");
  EXPECT_FALSE(parse_gsm8k_answer("no final answer").has_value());
  EXPECT_FALSE(parse_gsm8k_answer("#### ").has_value());
}

TEST(EvalScore, RewardLevels) {
  Score s;
  EXPECT_EQ(reward(s), 0.0);
  s.format_ok = true;
  EXPECT_EQ(reward(s), 0.1);
  s.correct = true;
  EXPECT_EQ(reward(s), 1.0);
  EXPECT_EQ(reward(s, RewardLevels{2.0, 0.5, -1.0}), 2.0);
}

// ---- Countdown ----

Reason cd(const std::string& eq, std::vector<int64_t> nums, int64_t target) {
  return check_countdown(eq, nums, target).reason;
}

TEST(EvalCountdown, ValidEquations) {
  EXPECT_EQ(cd("(25 - 5) * 3", {25, 5, 3}, 60), Reason::Correct);
  EXPECT_EQ(cd("3 * (25 - 5)", {5, 3, 25}, 60), Reason::Correct);  // any order
  EXPECT_EQ(cd("(25 - 5) * 3 = 60", {25, 5, 3}, 60), Reason::Correct);
  EXPECT_EQ(cd("(25-5)*3", {25, 5, 3}, 60), Reason::Correct);
  // Duplicates in the list are a multiset.
  EXPECT_EQ(cd("3 * 3 + 8 - 8", {3, 8, 3, 8}, 9), Reason::Correct);
  // LaTeX and Unicode operators.
  EXPECT_EQ(cd("(25 \\times 4) \\div 5", {25, 4, 5}, 20), Reason::Correct);
  EXPECT_EQ(cd("25 \xc3\x97 4 \xc3\xb7 5", {25, 4, 5}, 20), Reason::Correct);
  EXPECT_EQ(cd("\\left(30 \xe2\x88\x92 6\\right) \\cdot 2", {30, 6, 2}, 48), Reason::Correct);
  EXPECT_EQ(cd("$\\frac{30}{6} + 2$", {30, 6, 2}, 7), Reason::Correct);
  // Precedence and associativity: 20 - 5 - 3 is 12, 24 / 4 / 2 is 3.
  EXPECT_EQ(cd("20 - 5 - 3", {20, 5, 3}, 12), Reason::Correct);
  EXPECT_EQ(cd("24 / 4 / 2", {24, 4, 2}, 3), Reason::Correct);
  EXPECT_EQ(cd("2 + 3 * 4", {2, 3, 4}, 14), Reason::Correct);
}

TEST(EvalCountdown, ExactRationalIntermediates) {
  // 6 / (1 - 3/4) = 24 exactly; 1/3 in the middle, whole at the end.
  auto c = check_countdown("6 / (1 - 3 / 4)", std::vector<int64_t>{6, 1, 3, 4}, 24);
  EXPECT_EQ(c.reason, Reason::Correct);
  ASSERT_TRUE(c.value.has_value());
  EXPECT_EQ(c.value->first, 24);
  EXPECT_EQ(c.value->second, 1);
  EXPECT_EQ(cd("(1 / 3 + 1 / 3) * 3", {1, 3, 1, 3, 3}, 2), Reason::Correct);
  EXPECT_EQ(cd("8 / (3 - 8 / 3)", {8, 3, 8, 3}, 24), Reason::Correct);
  // A non-integer end value is just wrong.
  c = check_countdown("7 / 2", std::vector<int64_t>{7, 2}, 3);
  EXPECT_EQ(c.reason, Reason::WrongResult);
  EXPECT_EQ(c.value->first, 7);
  EXPECT_EQ(c.value->second, 2);
}

TEST(EvalCountdown, InvalidEquations) {
  EXPECT_EQ(cd("(25 - 5) * 3", {25, 5, 3}, 61), Reason::WrongResult);
  EXPECT_EQ(cd("(25 - 5) * 3 = 61", {25, 5, 3}, 60), Reason::WrongTarget);
  EXPECT_EQ(cd("10 / (5 - 5)", {10, 5, 5}, 2), Reason::DivisionByZero);
  EXPECT_EQ(cd("10 / (5 - 5) * 0", {10, 5, 5, 0}, 0), Reason::DivisionByZero);
  EXPECT_EQ(cd("25 * 3 - 25", {25, 5, 3}, 50), Reason::NumberReused);
  EXPECT_EQ(cd("25 * 3", {25, 5, 3}, 75), Reason::NumberUnused);
  EXPECT_EQ(cd("25 * 3 + 7", {25, 5, 3}, 82), Reason::NumberNotGiven);
  // A number not given outranks a number left unused.
  EXPECT_EQ(cd("100", {25, 5, 3}, 100), Reason::NumberNotGiven);
  // Overflow is reported, not wrapped: the list allows the huge values.
  EXPECT_EQ(
      cd("999999999999999999 * 999999999999999999", {999999999999999999, 999999999999999999}, 1),
      Reason::Overflow);
  EXPECT_EQ(cd("1234567890123456789012 + 1", {1}, 2), Reason::NumberNotGiven);
}

TEST(EvalCountdown, MalformedInput) {
  for (const char* bad : {"", "25 +", "(25 - 5 * 3", "25 - 5) * 3", "-25 + 5 + 3", "25 ** 5 + 3",
                          "2.5 * 2", "25 + x", "25 + 5 + 3 =", "25 + 5 = 30 = 30", "((25 + 5) + 3",
                          "1,000 + 5", "\\frac{25}{5 + 3", "25 5 + 3", "()", "25 + 5 + 3 = y"})
    EXPECT_EQ(cd(bad, {25, 5, 3}, 33), Reason::Malformed) << bad;
}

TEST(EvalCountdown, BoundedOnHostileInput) {
  // Deep nesting stops at the depth bound instead of recursing.
  std::string deep(kMaxEquationDepth + 1, '(');
  deep += "1" + std::string(kMaxEquationDepth + 1, ')');
  EXPECT_EQ(cd(deep, {1}, 1), Reason::TooLong);
  std::string ok_depth(kMaxEquationDepth - 1, '(');
  ok_depth += "1" + std::string(kMaxEquationDepth - 1, ')');
  EXPECT_EQ(cd(ok_depth, {1}, 1), Reason::Correct);
  // Long input stops at the length bound.
  std::string longest;
  while (longest.size() <= kMaxEquationBytes) longest += "1 + ";
  longest += "1";
  EXPECT_EQ(cd(longest, {1}, 1), Reason::TooLong);
  // A megabyte of open parentheses or of boxes: bounded work, no crash.
  const std::string huge(1 << 20, '(');
  EXPECT_EQ(cd(huge, {1}, 1), Reason::TooLong);
  std::string boxes;
  for (int i = 0; i < 100000; ++i) boxes += "\\boxed{";
  EXPECT_FALSE(last_boxed(boxes).has_value());
  auto s = score_countdown(boxes, std::vector<int64_t>{1, 2}, 3);
  EXPECT_EQ(s.reason, Reason::NoAnswer);
}

TEST(EvalCountdown, ScoringExtractsTheEquation) {
  const std::vector<int64_t> nums{25, 5, 3};
  auto s = score_countdown("So the answer is \\boxed{(25 - 5) * 3}.", nums, 60);
  EXPECT_TRUE(s.correct);
  EXPECT_TRUE(s.format_ok);
  EXPECT_EQ(s.extracted, "(25 - 5) * 3");
  s = score_countdown("\\boxed{(25 - 5) \\times 3 = 60}", nums, 60);
  EXPECT_TRUE(s.correct);
  // The last box wins, even when an earlier one was right.
  s = score_countdown("\\boxed{(25 - 5) * 3} or \\boxed{25 + 5 + 3}", nums, 60);
  EXPECT_FALSE(s.correct);
  EXPECT_EQ(s.reason, Reason::WrongResult);
  // Unboxed: the last line that is only an equation.
  s = score_countdown("We try things.\n(25 - 5) * 3 = 60\nDone, that works.", nums, 60);
  EXPECT_TRUE(s.correct);
  EXPECT_FALSE(s.format_ok);
  s = score_countdown("We try things.\n(25 - 5) * 3 = 60", nums, 60, ScoreOptions{false});
  EXPECT_EQ(s.reason, Reason::NoAnswer);
  // Only the target in the box: numbers not used.
  s = score_countdown("\\boxed{60}", nums, 60);
  EXPECT_EQ(s.reason, Reason::NumberNotGiven);
  EXPECT_EQ(reward(s), 0.1);  // format right, answer wrong
  s = score_countdown("\\boxed{}", nums, 60);
  EXPECT_EQ(s.reason, Reason::NoAnswer);
  EXPECT_EQ(reason_name(Reason::DivisionByZero), "division_by_zero");
}

TEST(EvalStats, WilsonInterval) {
  // Textbook values (Wilson 1927; e.g. Newcombe 1998, Table I: 81/263 ->
  // 0.2553..0.3662).
  auto w = wilson_interval(81, 263);
  EXPECT_NEAR(w.lo, 0.2553, 5e-4);
  EXPECT_NEAR(w.hi, 0.3662, 5e-4);
  w = wilson_interval(0, 10);  // stays inside [0, 1], non-trivial upper bound
  EXPECT_EQ(w.lo, 0.0);
  EXPECT_NEAR(w.hi, 0.2775, 5e-4);
  w = wilson_interval(10, 10);
  EXPECT_NEAR(w.lo, 0.7225, 5e-4);
  EXPECT_EQ(w.hi, 1.0);
  w = wilson_interval(0, 0);
  EXPECT_EQ(w.lo, 0.0);
  EXPECT_EQ(w.hi, 1.0);
}

}  // namespace
