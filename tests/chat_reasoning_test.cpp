// Compared against: hand-written expectations from the R1 output format
// (DeepSeek-R1 paper / model card: "<think>\n…\n</think>\n\n<answer>") and the
// splitting rules of llama.cpp's R1 parser and the DeepSeek API
// (reasoning_content without tags, content without the newlines after
// </think>), plus a whole-string oracle written from those rules in this file;
// every transcript is also fed in all 2-chunk and random n-chunk splits.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "chat/reasoning_splitter.h"

namespace frugal::chat {
namespace {

struct Split {
  std::string reasoning;
  std::string content;
  bool operator==(const Split&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Split& s) {
  return os << "{reasoning='" << s.reasoning << "', content='" << s.content << "'}";
}

Split run_chunks(const std::vector<std::string_view>& chunks, bool starts_in_reasoning) {
  ReasoningSplitter sp(starts_in_reasoning);
  Split out;
  for (auto c : chunks) {
    auto d = sp.push(c);
    out.reasoning += d.reasoning;
    out.content += d.content;
  }
  auto d = sp.finish();
  out.reasoning += d.reasoning;
  out.content += d.content;
  return out;
}

Split run(std::string_view text, bool starts_in_reasoning) {
  return run_chunks({text}, starts_in_reasoning);
}

// The documented rules applied to the whole string at once.
bool ws(char c) {
  return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}
std::string lstrip(std::string s) {
  size_t i = 0;
  while (i < s.size() && ws(s[i])) ++i;
  return s.substr(i);
}
std::string strip(std::string s) {
  s = lstrip(std::move(s));
  while (!s.empty() && ws(s.back())) s.pop_back();
  return s;
}
Split oracle(const std::string& full, bool starts_in_reasoning) {
  std::string t = lstrip(full);
  if (!starts_in_reasoning && t.rfind("<think>", 0) != 0) return {"", t};
  if (t.rfind("<think>", 0) == 0) t = t.substr(7);
  const size_t pos = t.find("</think>");
  if (pos == std::string::npos) return {strip(t), ""};
  return {strip(t.substr(0, pos)), lstrip(t.substr(pos + 8))};
}

void expect_chunking_invariant(const std::string& text, bool starts, std::mt19937& rng) {
  const Split whole = run(text, starts);
  ASSERT_EQ(whole, oracle(text, starts)) << "text='" << text << "' starts=" << starts;
  for (size_t cut = 0; cut <= text.size(); ++cut) {
    std::string_view v = text;
    ASSERT_EQ(run_chunks({v.substr(0, cut), v.substr(cut)}, starts), whole)
        << "cut=" << cut << " text='" << text << "'";
  }
  for (int trial = 0; trial < 30; ++trial) {
    std::vector<std::string_view> chunks;
    std::string_view v = text;
    while (!v.empty()) {
      const size_t n = std::uniform_int_distribution<size_t>(0, std::min<size_t>(v.size(), 5))(rng);
      chunks.push_back(v.substr(0, n));
      v.remove_prefix(n);
    }
    ASSERT_EQ(run_chunks(chunks, starts), whole) << "text='" << text << "'";
  }
  // One byte at a time: the finest split.
  std::vector<std::string_view> bytes;
  for (size_t i = 0; i < text.size(); ++i) bytes.push_back(std::string_view(text).substr(i, 1));
  ASSERT_EQ(run_chunks(bytes, starts), whole);
}

TEST(ReasoningSplitter, PromptOpenedR1Output) {
  // R1 after the template's "<think>\n": reasoning, "\n</think>\n\n", answer.
  const Split s = run("Okay, 2+2.\nThat is 4.\n</think>\n\nThe answer is **4**.", true);
  EXPECT_EQ(s.reasoning, "Okay, 2+2.\nThat is 4.");
  EXPECT_EQ(s.content, "The answer is **4**.");
}

TEST(ReasoningSplitter, ModelOpenedThink) {
  const Split s = run("<think>\nHmm, a greeting.\n</think>\n\nHello!", false);
  EXPECT_EQ(s.reasoning, "Hmm, a greeting.");
  EXPECT_EQ(s.content, "Hello!");
  // Whitespace before the opening tag is not content.
  EXPECT_EQ(run("\n  <think>x</think>y", false), (Split{"x", "y"}));
}

TEST(ReasoningSplitter, NoThinkAtAll) {
  EXPECT_EQ(run("Just an answer.\n", false), (Split{"", "Just an answer.\n"}));
  // Once the reply has started, "<think>" is ordinary text.
  EXPECT_EQ(run("Use the <think> tag.", false), (Split{"", "Use the <think> tag."}));
  EXPECT_EQ(run("", false), (Split{"", ""}));
  EXPECT_EQ(run("", true), (Split{"", ""}));
}

TEST(ReasoningSplitter, LooksLikeATagButIsNot) {
  EXPECT_EQ(run_chunks({"<thi", "s is content"}, false), (Split{"", "<this is content"}));
  EXPECT_EQ(run_chunks({"deep </thi", "s is still reasoning"}, true),
            (Split{"deep </this is still reasoning", ""}));
  EXPECT_EQ(run_chunks({"a <", "/", "t", "hink", "er"}, true), (Split{"a </thinker", ""}));
  // A lone partial tag at the very end is text too.
  EXPECT_EQ(run_chunks({"<thi"}, false), (Split{"", "<thi"}));
  EXPECT_EQ(run_chunks({"thinking </th"}, true), (Split{"thinking </th", ""}));
}

TEST(ReasoningSplitter, HeldBackTextIsReleasedAsSoonAsItIsDecided) {
  ReasoningSplitter sp(true);
  auto d1 = sp.push("step one </thi");
  EXPECT_EQ(d1.reasoning, "step one");  // " </thi" held: whitespace may be trailing
  EXPECT_TRUE(d1.content.empty());
  EXPECT_TRUE(sp.in_reasoning());
  auto d2 = sp.push("nk>\n\nAnswer");
  EXPECT_TRUE(d2.reasoning.empty());
  EXPECT_EQ(d2.content, "Answer");
  EXPECT_FALSE(sp.in_reasoning());
  EXPECT_TRUE(sp.finish().empty());
}

TEST(ReasoningSplitter, UnterminatedReasoningIsFlushedByFinish) {
  EXPECT_EQ(run("<think>\nI am still thinking when the budget ends", false),
            (Split{"I am still thinking when the budget ends", ""}));
  ReasoningSplitter sp(true);
  auto d = sp.push("thinking...\n");
  EXPECT_EQ(d.reasoning, "thinking...");
  EXPECT_TRUE(sp.in_reasoning());
  EXPECT_TRUE(sp.finish().empty());  // trailing whitespace of reasoning is trimmed
}

TEST(ReasoningSplitter, LaterThinkAfterReasoningIsContent) {
  // Documented choice: only one reasoning block, at the start.
  EXPECT_EQ(run("<think>a</think>b <think>c</think>d", false), (Split{"a", "b <think>c</think>d"}));
  EXPECT_EQ(run("a</think>\n\n<think>b", true), (Split{"a", "<think>b"}));
}

TEST(ReasoningSplitter, RepeatedOpenTagAfterPromptOpenedIsDropped) {
  EXPECT_EQ(run("<think>\nfoo\n</think>\n\nbar", true), (Split{"foo", "bar"}));
  EXPECT_EQ(run_chunks({"\n<th", "ink>", "\nfoo</think>bar"}, true), (Split{"foo", "bar"}));
  // Only at the very start: later it is reasoning text.
  EXPECT_EQ(run("x <think> y</think>z", true), (Split{"x <think> y", "z"}));
}

TEST(ReasoningSplitter, WhitespaceRules) {
  // Interior whitespace is kept in both streams; edges per the rules.
  EXPECT_EQ(run("\n\n  a\n\nb  \n</think>\n\n  c\n\nd \n", true), (Split{"a\n\nb", "c\n\nd \n"}));
  // Empty reasoning block.
  EXPECT_EQ(run("<think>\n\n</think>\n\nanswer", false), (Split{"", "answer"}));
  EXPECT_EQ(run("\n</think>\n\n", true), (Split{"", ""}));
}

TEST(ReasoningSplitter, MultibyteTextPassesThrough) {
  const std::string text = "用户问好 🤔\n</think>\n\nBonjour 👋 — ça va?";
  EXPECT_EQ(run(text, true), (Split{"用户问好 🤔", "Bonjour 👋 — ça va?"}));
  std::mt19937 rng(7);
  expect_chunking_invariant(text, true, rng);
}

TEST(ReasoningSplitter, EveryChunkingGivesTheSameResult) {
  const std::vector<std::pair<std::string, bool>> transcripts = {
      {"Let me see.\n</think>\n\nFour.", true},
      {"<think>\nHmm </thi </think>\n\nOK <think> x", false},
      {"  <think>a<b</c</think>< /think>", false},
      {"<thi", false},
      {"<<think>>", false},
      {"</think>", true},
      {"</think></think>", true},
      {"<think><think></think>", false},
      {"\n<think>\n<think>r</think>c", true},
      {"plain content only", false},
      {"<think>never closed </thin", false},
      {"r \t\n</think> \n c", true},
  };
  std::mt19937 rng(12345);
  for (const auto& [text, starts] : transcripts) expect_chunking_invariant(text, starts, rng);
}

TEST(ReasoningSplitter, RandomTranscriptsMatchTheRules) {
  // Random transcripts made of tag pieces, near-tags and text.
  const std::vector<std::string> pieces = {"<think>", "</think>", "<",  "</",   "<th", "</thi",
                                           "nk>",     "k>",       "\n", "\n\n", " ",   "a",
                                           "é",       "think",    ">",  "/",    "x y"};
  std::mt19937 rng(2024);
  for (int i = 0; i < 300; ++i) {
    std::string text;
    const int n = std::uniform_int_distribution<int>(0, 12)(rng);
    for (int k = 0; k < n; ++k)
      text += pieces[std::uniform_int_distribution<size_t>(0, pieces.size() - 1)(rng)];
    const bool starts = (i % 2) == 0;
    expect_chunking_invariant(text, starts, rng);
    // "</think>" always ends the reasoning, so it never appears inside it.
    EXPECT_EQ(run(text, starts).reasoning.find("</think>"), std::string::npos) << text;
  }
}

}  // namespace
}  // namespace frugal::chat
