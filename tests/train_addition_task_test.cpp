// The synthetic addition task of the tiny R1 pipeline: the scratchpad is
// arithmetic that checks line by line, both reply styles earn the R1 reward
// when right and nothing when wrong, and the held-out split never leaks.
#include <gtest/gtest.h>

#include <set>
#include <sstream>

#include "train/addition_task.h"
#include "train/rewards.h"

namespace frugal::train {
namespace {

Reward score(const std::string& reply, int64_t expected) {
  RewardProblem rp;
  rp.expected = *eval::parse_number(std::to_string(expected));
  return score_completion(reply, rp, RewardOptions{});
}

TEST(AdditionTask, RepliesInBothStyles) {
  const AdditionProblem p{478, 356};
  EXPECT_EQ(addition_question(p), "478+356");
  EXPECT_EQ(addition_reply(p, ReplyStyle::Reasoned),
            "8+6=14 4\n7+5+1=13 34\n4+3+1=8 834\n</think>\n<answer>834</answer>");
  EXPECT_EQ(addition_reply(p, ReplyStyle::Direct), "478+356=834\n</think>\n<answer>834</answer>");
  EXPECT_EQ(addition_reply(p, ReplyStyle::Careless), "478+356=724\n</think>\n<answer>724</answer>");
  EXPECT_EQ(carry_less_sum({95, 7}), 92);
  EXPECT_EQ(carry_less_sum({0, 0}), 0);
  EXPECT_EQ(carry_less_sum({123, 456}), 579);  // no carry: the true sum
  EXPECT_EQ(reply_style(addition_reply(p, ReplyStyle::Careless), p), ReplyStyle::Direct);
  // A final carry and operands of different lengths.
  EXPECT_EQ(addition_reply({95, 7}, ReplyStyle::Reasoned),
            "5+7=12 2\n9+0+1=10 02\ncarry 1 102\n</think>\n<answer>102</answer>");
  EXPECT_EQ(reply_style(addition_reply(p, ReplyStyle::Direct), p), ReplyStyle::Direct);
  EXPECT_EQ(reply_style(addition_reply(p, ReplyStyle::Reasoned), p), ReplyStyle::Reasoned);
}

// Every scratchpad line "x+y(+c)=s digits" is true arithmetic, the carries
// chain, and the last line's digits are the sum.
TEST(AdditionTask, ScratchpadChecksLineByLine) {
  for (const AdditionProblem& p : addition_problems(7, 500, 1, 4, Split::Train)) {
    const std::string reply = addition_reply(p, ReplyStyle::Reasoned);
    std::istringstream in(reply.substr(0, reply.find("</think>")));
    int carry = 0;
    std::string digits, line;
    while (std::getline(in, line)) {
      if (line.starts_with("carry 1 ")) {
        EXPECT_EQ(carry, 1);
        digits = line.substr(8);
        carry = 0;
        continue;
      }
      int x = 0, y = 0, c = 0, s = 0;
      char rest[32] = {};
      if (std::sscanf(line.c_str(), "%d+%d+%d=%d %31s", &x, &y, &c, &s, rest) != 5) {
        c = 0;
        ASSERT_EQ(std::sscanf(line.c_str(), "%d+%d=%d %31s", &x, &y, &s, rest), 4) << line;
      }
      EXPECT_EQ(c, carry) << line;
      EXPECT_EQ(x + y + c, s) << line;
      EXPECT_EQ(std::string(rest), std::to_string(s % 10) + digits) << line;
      digits = rest;
      carry = s / 10;
    }
    EXPECT_EQ(carry, 0);
    EXPECT_EQ(std::stoll(digits), p.sum()) << reply;
  }
}

TEST(AdditionTask, RewardIsTheR1Reward) {
  const AdditionProblem p{478, 356};
  for (ReplyStyle s : {ReplyStyle::Reasoned, ReplyStyle::Direct}) {
    const Reward r = score(addition_reply(p, s), p.sum());
    EXPECT_EQ(r.total, 1.0);
    EXPECT_TRUE(r.think_closed);
    EXPECT_EQ(score(addition_reply(p, s), p.sum() + 1).total, 0.0);  // a wrong sum
  }
  EXPECT_EQ(score(addition_reply(p, ReplyStyle::Careless), p.sum()).total, 0.0);
  // Never closing the reasoning earns nothing, even with the right number.
  EXPECT_EQ(score("8+6=14 4\n7+5+1=13 34\n4+3+1=8 834\n", 834).total, 0.0);
}

TEST(AdditionTask, ProblemsAreDistinctInRangeDeterministicAndSplit) {
  const auto a = addition_problems(3, 300, 3, 3, Split::HeldOut);
  EXPECT_EQ(a.size(), 300u);
  std::set<std::pair<int64_t, int64_t>> seen;
  for (const auto& p : a) {
    EXPECT_TRUE(p.a >= 100 && p.a <= 999 && p.b >= 100 && p.b <= 999);
    EXPECT_TRUE(in_split(p, Split::HeldOut));
    EXPECT_FALSE(in_split(p, Split::Train));
    EXPECT_TRUE(seen.insert({p.a, p.b}).second);
  }
  const auto b = addition_problems(3, 300, 3, 3, Split::HeldOut);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].a, b[i].a);
  // About one problem in eight is held out.
  int held = 0;
  for (int64_t x = 100; x < 300; ++x)
    for (int64_t y = 100; y < 300; ++y) held += in_split({x, y}, Split::HeldOut);
  EXPECT_NEAR(held / 40000.0, 0.125, 0.01);
  // One-digit operands: 100 pairs, about 88 of them in the train split.
  const auto small = addition_problems(1, 1000, 1, 1, Split::Train);
  EXPECT_LT(small.size(), 100u);
  EXPECT_GT(small.size(), 70u);
  EXPECT_TRUE(addition_problems(1, 5, 0, 3, Split::Train).empty());
  EXPECT_TRUE(addition_problems(1, 5, 3, 10, Split::Train).empty());
}

}  // namespace
}  // namespace frugal::train
