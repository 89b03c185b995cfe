// TokenTable (pooled texts + open-addressing index) against a std::map built
// from the same texts: every text found at its lowest id, absent texts not
// found, texts returned byte for byte (empty strings, NULs, duplicates, a
// table large enough to wrap its probes).
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "tokenizer/token_table.h"

using frugal::tokenizer::TokenTable;

namespace {

TEST(TokenTable, AgreesWithAMapOnEveryTextAndLowestIdWinsForDuplicates) {
  std::mt19937 rng(7);
  std::vector<std::string> texts = {"", "a", "a", std::string("x\0y", 3), "ab", ""};
  for (int i = 0; i < 5000; ++i) {
    std::string t(rng() % 6, '\0');
    for (char& c : t) c = static_cast<char>('a' + rng() % 4);  // many duplicates
    texts.push_back(t);
  }
  const TokenTable table(texts);
  ASSERT_EQ(table.size(), static_cast<int32_t>(texts.size()));
  std::map<std::string, int32_t> first;
  for (int32_t id = 0; id < table.size(); ++id) {
    EXPECT_EQ(table.text(id), texts[static_cast<size_t>(id)]) << id;
    first.emplace(texts[static_cast<size_t>(id)], id);
  }
  for (const auto& [text, id] : first) EXPECT_EQ(table.find(text), id) << text;
  EXPECT_EQ(table.find("zzzz"), std::nullopt);
  EXPECT_EQ(table.find(std::string("x\0z", 3)), std::nullopt);
  EXPECT_EQ(table.find(std::string("x\0y", 3)), 3);
}

TEST(TokenTable, EmptyTableFindsNothing) {
  const TokenTable none;
  EXPECT_EQ(none.size(), 0);
  EXPECT_EQ(none.find(""), std::nullopt);
  const TokenTable empty(std::vector<std::string>{});
  EXPECT_EQ(empty.find("a"), std::nullopt);
}

}  // namespace
