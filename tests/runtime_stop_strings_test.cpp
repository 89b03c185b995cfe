// StopMatcher against the plain definition: the emitted text equals the full
// text cut before the earliest occurrence of any stop string, whatever the
// chunking of the stream.
#include <gtest/gtest.h>

#include <random>

#include "runtime/stop_strings.h"

namespace frugal::runtime {
namespace {

std::pair<std::string, bool> run(const std::vector<std::string>& stops,
                                 const std::vector<std::string>& chunks) {
  StopMatcher m(stops);
  std::string out;
  for (const auto& c : chunks) {
    auto r = m.push(c);
    out += r.text;
    if (r.stopped) return {out, true};
  }
  out += m.flush();
  return {out, false};
}

std::pair<std::string, bool> expected(const std::vector<std::string>& stops, const std::string& text) {
  size_t first = std::string::npos;
  for (auto& s : stops) first = std::min(first, text.find(s));
  if (first == std::string::npos) return {text, false};
  return {text.substr(0, first), true};
}

TEST(StopMatcher, EveryChunkingGivesTheDefinition) {
  const std::vector<std::string> stops = {"</answer>", "\n\nUser:", "STOP"};
  const std::vector<std::string> texts = {
      "The answer is 42.</answer> trailing", "no stop here at all <", "hello\n\nUser: next",
      "ST", "almost </answe and then STOP", "S T O P", "</answer></answer>"};
  std::mt19937 rng(1);
  for (const auto& t : texts) {
    const auto want = expected(stops, t);
    // Byte by byte, every 2-way split, and random chunkings.
    std::vector<std::string> bytes;
    for (char ch : t) bytes.emplace_back(1, ch);
    EXPECT_EQ(run(stops, bytes), want) << t;
    for (size_t i = 0; i <= t.size(); ++i)
      EXPECT_EQ(run(stops, {t.substr(0, i), t.substr(i)}), want) << t << " @" << i;
    for (int trial = 0; trial < 50; ++trial) {
      std::vector<std::string> chunks;
      size_t pos = 0;
      while (pos < t.size()) {
        size_t n = 1 + rng() % 5;
        chunks.push_back(t.substr(pos, n));
        pos += n;
      }
      EXPECT_EQ(run(stops, chunks), want) << t;
    }
  }
}

TEST(StopMatcher, NoStopsPassesEverythingAtOnce) {
  StopMatcher m({});
  auto r = m.push("abc");
  EXPECT_EQ(r.text, "abc");
  EXPECT_FALSE(r.stopped);
}

TEST(StopMatcher, HoldsBackOnlyPossiblePrefixes) {
  StopMatcher m({"END"});
  EXPECT_EQ(m.push("xyzE").text, "xyz");
  EXPECT_EQ(m.push("x").text, "Ex");
}

}  // namespace
}  // namespace frugal::runtime
