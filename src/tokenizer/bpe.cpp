#include "tokenizer/bpe.h"

#include <queue>

namespace frugal::tokenizer {

namespace {

uint64_t mix(uint64_t k) {  // splitmix64's finalizer: ids differ in few low bits
  k ^= k >> 30;
  k *= 0xbf58476d1ce4e5b9ULL;
  k ^= k >> 27;
  k *= 0x94d049bb133111ebULL;
  return k ^ (k >> 31);
}

}  // namespace

std::optional<BpeModel::Merge> BpeModel::find(int32_t left, int32_t right) const {
  if (slots_.empty()) return std::nullopt;
  const uint64_t k = key(left, right);
  for (uint64_t i = mix(k) & mask_;; i = (i + 1) & mask_) {
    if (slots_[i].key == k) return slots_[i].merge;
    if (slots_[i].key == kEmpty) return std::nullopt;
  }
}

size_t BpeModel::build(const TokenTable& token_ids, const std::vector<std::string>& merges) {
  uint64_t cap = 16;
  while (cap * 3 < static_cast<uint64_t>(merges.size()) * 4) cap *= 2;
  slots_.assign(static_cast<size_t>(cap), Slot{kEmpty, {}});
  mask_ = cap - 1;
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
    const auto a = token_ids.find(left);
    const auto b = token_ids.find(right);
    const auto c = token_ids.find(joined);
    if (!a || !b || !c) {
      ++skipped;
      continue;
    }
    // The first (lowest-rank) occurrence of a pair wins, as in a rank lookup.
    const uint64_t k = key(*a, *b);
    uint64_t i = mix(k) & mask_;
    while (slots_[i].key != kEmpty && slots_[i].key != k) i = (i + 1) & mask_;
    if (slots_[i].key == kEmpty) slots_[i] = Slot{k, Merge{static_cast<int32_t>(r), *c}};
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
    int32_t rank, left, left_id, right_id, result;
    bool operator>(const Cand& o) const { return rank != o.rank ? rank > o.rank : left > o.left; }
  };
  std::priority_queue<Cand, std::vector<Cand>, std::greater<Cand>> q;
  const auto push_pair = [&](int32_t l) {
    if (l < 0) return;
    const int32_t r = sym[l].next;
    if (r < 0 || sym[l].id < 0 || sym[r].id < 0) return;
    if (const auto m = find(sym[l].id, sym[r].id))
      q.push({m->rank, l, sym[l].id, sym[r].id, m->result});
  };
  for (int32_t i = 0; i + 1 < static_cast<int32_t>(n); ++i) push_pair(i);
  while (!q.empty()) {
    const Cand c = q.top();
    q.pop();
    const int32_t l = c.left;
    const int32_t r = sym[l].next;
    // Stale entry: one side was merged since this pair was queued.
    if (sym[l].id != c.left_id || r < 0 || sym[r].id != c.right_id) continue;
    sym[l].id = c.result;
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
