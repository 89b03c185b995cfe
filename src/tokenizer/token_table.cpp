#include "tokenizer/token_table.h"

#include <functional>

namespace frugal::tokenizer {

TokenTable::TokenTable(const std::vector<std::string>& texts) {
  uint64_t total = 0;
  for (const std::string& t : texts) total += t.size();
  bytes_.reserve(static_cast<size_t>(total));
  end_.reserve(texts.size());
  for (const std::string& t : texts) {
    bytes_ += t;
    end_.push_back(bytes_.size());
  }
  uint64_t cap = 16;
  while (cap < 2 * static_cast<uint64_t>(texts.size())) cap *= 2;
  slots_.assign(static_cast<size_t>(cap), -1);
  mask_ = cap - 1;
  for (int32_t id = 0; id < size(); ++id) {
    const std::string_view t = text(id);
    uint64_t i = std::hash<std::string_view>{}(t) & mask_;
    // Linear probing; inserting in id order leaves the lowest id of equal
    // texts first on the probe path, so it is the one found.
    while (slots_[i] >= 0 && text(slots_[i]) != t) i = (i + 1) & mask_;
    if (slots_[i] < 0) slots_[i] = id;
  }
}

std::string_view TokenTable::text(int32_t id) const {
  const auto i = static_cast<size_t>(id);
  const uint64_t begin = i == 0 ? 0 : end_[i - 1];
  return std::string_view(bytes_).substr(static_cast<size_t>(begin),
                                         static_cast<size_t>(end_[i] - begin));
}

std::optional<int32_t> TokenTable::find(std::string_view t) const {
  if (slots_.empty()) return std::nullopt;
  for (uint64_t i = std::hash<std::string_view>{}(t) & mask_;; i = (i + 1) & mask_) {
    const int32_t id = slots_[i];
    if (id < 0) return std::nullopt;
    if (text(id) == t) return id;
  }
}

}  // namespace frugal::tokenizer
