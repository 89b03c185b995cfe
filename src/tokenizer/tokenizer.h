// Byte-level BPE tokenizer (GPT-2 family: Qwen2 / R1-Distill-Qwen, Llama 3,
// SmolLM2, DeepSeek), built from GGUF `tokenizer.ggml.*` metadata. The
// pre-tokenizer regexes are chosen by `tokenizer.ggml.pre`.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "gguf/gguf_file.h"

namespace frugal::tokenizer {

// Values of `tokenizer.ggml.token_type`.
enum class TokenType : int32_t {
  Undefined = 0, Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6,
};

struct Vocab {
  std::string model = "gpt2";         // tokenizer.ggml.model
  std::string pre = "default";        // tokenizer.ggml.pre
  std::vector<std::string> tokens;    // byte-level encoded pieces; a Tokenizer's
                                      // vocab() has none (see token_text())
  std::vector<TokenType> types;       // same length as tokens (Normal if absent)
  std::vector<std::string> merges;    // "a b" pairs, rank = index; a Tokenizer's
                                      // vocab() has none (its BPE table holds them)
  int32_t bos = -1, eos = -1, eot = -1, eom = -1, pad = -1, unk = -1;
  bool add_bos = false;
  bool add_eos = false;
};

class Tokenizer {
 public:
  static Result<std::unique_ptr<Tokenizer>> from_gguf(const gguf::File& f);
  static Result<std::unique_ptr<Tokenizer>> from_vocab(Vocab v);
  ~Tokenizer();

  // Token ids for `text`, without BOS. With parse_special, the text of a
  // control or user-defined token (e.g. "<|im_start|>") becomes that token;
  // without it, such text is tokenized as plain bytes.
  std::vector<int32_t> encode(std::string_view text, bool parse_special) const;

  // Raw bytes of one token (byte-level decoding undone); empty for an id out
  // of range. Control tokens decode to "" unless `special` is true.
  std::string token_to_piece(int32_t id, bool special = false) const;
  std::string decode(std::span<const int32_t> ids, bool special = false) const;

  int32_t n_vocab() const;
  bool valid(int32_t id) const { return id >= 0 && id < n_vocab(); }
  const Vocab& vocab() const;
  std::optional<int32_t> find_token(std::string_view piece_text) const;  // exact vocab entry
  // The vocabulary entry of `id` (byte-level text, as in the file); empty for
  // an id out of range.
  std::string_view token_text(int32_t id) const;
  // End-of-generation: eos, eot, eom, and control tokens known to end a turn
  // (e.g. <|im_end|>, <|eot_id|>, <｜end▁of▁sentence｜>).
  bool is_eog(int32_t id) const;

 private:
  Tokenizer();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Turns a stream of token ids into text deltas that are always whole UTF-8
// characters: bytes of a character split across tokens are held back until it
// is complete. Invalid sequences are passed as U+FFFD at flush.
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tok, bool special = false) : tok_(tok), special_(special) {}
  std::string push(int32_t id);
  std::string flush();

 private:
  const Tokenizer& tok_;
  bool special_;
  std::string pending_;
};

}  // namespace frugal::tokenizer
