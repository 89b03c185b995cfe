// TokenTable: the vocabulary's token texts, pooled, and text -> lowest id.
// One string of all texts plus an end offset per id (8 bytes a token where a
// std::string took 32), and an open-addressing table of ids (4 bytes a slot,
// load <= 1/2) that compares against the pooled texts; a std::unordered_map
// of string keys took ~64 bytes a token plus a copy of every text. Together
// several MiB less for a 150k vocabulary (issue 3: RSS after load within 5 %
// of the file, which a 100 MB model feels).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace frugal::tokenizer {

class TokenTable {
 public:
  TokenTable() = default;
  // Duplicated texts map to their lowest id.
  explicit TokenTable(const std::vector<std::string>& texts);

  int32_t size() const { return static_cast<int32_t>(end_.size()); }
  // Text of `id` (0 <= id < size()).
  std::string_view text(int32_t id) const;
  std::optional<int32_t> find(std::string_view text) const;

 private:
  std::string bytes_;
  std::vector<uint64_t> end_;   // text i is bytes_[end_[i-1], end_[i])
  std::vector<int32_t> slots_;  // ids by hash of their text; -1: empty
  uint64_t mask_ = 0;
};

}  // namespace frugal::tokenizer
