// Byte-level BPE merges over token ids: a piece's bytes start as one symbol
// each (the byte's token), then the adjacent pair with the lowest merge rank
// is merged until no ranked pair is left. Ties go to the leftmost pair, as in
// Hugging Face `tokenizers` and llama.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <optional>
#include <string_view>
#include <vector>

#include "tokenizer/token_table.h"

namespace frugal::tokenizer {

class BpeModel {
 public:
  // `token_ids`: byte-level text -> id. Merges are "left right" in byte-level
  // text; a merge is skipped when either side or the merged text is not a
  // token (it could never fire on ids), and its rank is kept either way.
  // Returns the number of skipped merges.
  size_t build(const TokenTable& token_ids, const std::vector<std::string>& merges);

  // byte id of every byte value, or -1 when the vocab lacks that byte.
  void set_byte_tokens(const std::vector<int32_t>& byte_ids) { byte_ids_ = byte_ids; }

  // Appends the ids for one pre-token `bytes` (raw bytes, not byte-level text).
  void encode_piece(std::string_view bytes, std::vector<int32_t>& out) const;

 private:
  struct Merge {
    int32_t rank;
    int32_t result;
  };
  static uint64_t key(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }
  std::optional<Merge> find(int32_t left, int32_t right) const;

  // (left id, right id) -> merge, open addressing with linear probing at a
  // load of at most 3/4: 16 bytes a merge where std::unordered_map took ~40
  // (1.5 MiB for a 50k-merge vocabulary; issue 3 counts every MiB of a small
  // model's RSS). Ids are < 2^31, so kEmpty is never a real key.
  struct Slot {
    uint64_t key;
    Merge merge;
  };
  static constexpr uint64_t kEmpty = ~uint64_t{0};
  std::vector<Slot> slots_;
  uint64_t mask_ = 0;
  std::vector<int32_t> byte_ids_;
};

}  // namespace frugal::tokenizer
