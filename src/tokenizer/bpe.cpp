#include "tokenizer/bpe.h"

#include <queue>

namespace frugal::tokenizer {

size_t BpeModel::build(const std::unordered_map<std::string, int32_t>& token_ids,
                       const std::vector<std::string>& merges) {
  merges_.clear();
  merges_.reserve(merges.size());
  size_t skipped = 0;
  std::string joined;
  for (size_t r = 0; r < merges.size(); ++r) {
    const std::string& m = merges[r];
    const size_t sp = m.find(' ');
    if (sp == std::string::npos) {
      ++skipped;
      continue;
    }
    const std::string_view left(m.data(), sp), right(m.data() + sp + 1, m.size() - sp - 1);
    joined.assign(left);
    joined.append(right);
    const auto a = token_ids.find(std::string(left));
    const auto b = token_ids.find(std::string(right));
    const auto c = token_ids.find(joined);
    if (a == token_ids.end() || b == token_ids.end() || c == token_ids.end()) {
      ++skipped;
      continue;
    }
    // The first (lowest-rank) occurrence of a pair wins, as in a rank lookup.
    merges_.emplace(key(a->second, b->second), Merge{static_cast<int32_t>(r), c->second});
  }
  return skipped;
}

void BpeModel::encode_piece(std::string_view bytes, std::vector<int32_t>& out) const {
  const size_t n = bytes.size();
  if (n == 0) return;
  // Doubly linked list of symbols; a merged-away symbol has id -1.
  struct Symbol {
    int32_t id;
    int32_t prev, next;
  };
  std::vector<Symbol> sym(n);
  for (size_t i = 0; i < n; ++i) {
    sym[i] = {byte_ids_[static_cast<uint8_t>(bytes[i])], static_cast<int32_t>(i) - 1,
              i + 1 < n ? static_cast<int32_t>(i + 1) : -1};
  }
  struct Cand {
    int32_t rank, left, left_id, right_id;
    bool operator>(const Cand& o) const { return rank != o.rank ? rank > o.rank : left > o.left; }
  };
  std::priority_queue<Cand, std::vector<Cand>, std::greater<Cand>> q;
  const auto push_pair = [&](int32_t l) {
    if (l < 0) return;
    const int32_t r = sym[l].next;
    if (r < 0 || sym[l].id < 0 || sym[r].id < 0) return;
    const auto it = merges_.find(key(sym[l].id, sym[r].id));
    if (it != merges_.end()) q.push({it->second.rank, l, sym[l].id, sym[r].id});
  };
  for (int32_t i = 0; i + 1 < static_cast<int32_t>(n); ++i) push_pair(i);
  while (!q.empty()) {
    const Cand c = q.top();
    q.pop();
    const int32_t l = c.left;
    const int32_t r = sym[l].next;
    // Stale entry: one side was merged since this pair was queued.
    if (sym[l].id != c.left_id || r < 0 || sym[r].id != c.right_id) continue;
    sym[l].id = merges_.at(key(c.left_id, c.right_id)).result;
    sym[l].next = sym[r].next;
    if (sym[r].next >= 0) sym[sym[r].next].prev = l;
    sym[r].id = -1;
    sym[r].next = sym[r].prev = -1;
    push_pair(sym[l].prev);
    push_pair(l);
  }
  for (int32_t i = 0; i >= 0; i = sym[i].next) {
    if (sym[i].id >= 0) out.push_back(sym[i].id);
  }
}

}  // namespace frugal::tokenizer
