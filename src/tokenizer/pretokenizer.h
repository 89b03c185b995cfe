// Pre-tokenizer: splits text into the pieces BPE runs on, by the regex
// sequence that `tokenizer.ggml.pre` names. Each regex of a sequence is
// applied to every piece the previous one produced, with Hugging Face's
// "Split, behavior Isolated" semantics: matches and the gaps between them
// both become pieces. Also says whether the family normalizes to NFC.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace frugal::tokenizer {

struct PreTokenizerSpec {
  std::vector<std::string> regexes;  // PCRE2 syntax, applied in order
  bool nfc = false;                  // HF tokenizer.json has an NFC normalizer
  bool ignore_merges = false;        // a piece that is a whole vocab entry skips BPE
};

// The spec for a `tokenizer.ggml.pre` value; error for names we do not know.
Result<PreTokenizerSpec> pre_tokenizer_spec(std::string_view pre);

class PreTokenizer {
 public:
  // Compiles the regexes (UTF + UCP, JIT when the library has it).
  static Result<std::unique_ptr<PreTokenizer>> create(const PreTokenizerSpec& spec);
  ~PreTokenizer();

  // Appends the pieces of `text` (views into it) to `out`. Invalid UTF-8 is
  // never given to the regex engine: each invalid byte becomes its own piece
  // and the valid runs between them are split normally. Thread-safe.
  void split(std::string_view text, std::vector<std::string_view>& out) const;

  const PreTokenizerSpec& spec() const { return spec_; }

 private:
  PreTokenizer() = default;
  struct Compiled;
  PreTokenizerSpec spec_;
  std::vector<std::unique_ptr<Compiled>> compiled_;
  void split_valid(std::string_view text, std::vector<std::string_view>& out) const;
};

// NFC of valid UTF-8 `text` (utf8proc); the input unchanged if it is not valid.
std::string nfc_normalize(std::string_view text);

}  // namespace frugal::tokenizer
