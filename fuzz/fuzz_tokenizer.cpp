// Fuzz target: the byte-level BPE tokenizer on two real vocabularies from
// ../shared/testdata/vocab (GPT-2, and DeepSeek-R1-Qwen with NFC and the R1
// special tokens), loaded once. The first input byte picks the vocabulary and
// the operation; the rest is the text to encode or the ids to decode.
// Checked properties (src/tokenizer/README.md):
// - encode gives only ids inside the vocabulary, and no control token
//   unless special-token parsing was asked for;
// - GPT-2 has no normalizer, so decode(encode(s)) == s for any bytes s;
// - decode of arbitrary ids (negative, huge) never reads outside the vocab;
// - StreamDecoder deltas are valid UTF-8, and for valid text they
//   concatenate to decode(ids).
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "fuzz_check.h"
#include "gguf/gguf_file.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/tokenizer.h"

namespace {

using frugal::tokenizer::StreamDecoder;
using frugal::tokenizer::Tokenizer;
using frugal::tokenizer::TokenType;

struct Loaded {
  std::unique_ptr<frugal::gguf::File> file;
  std::unique_ptr<Tokenizer> tok;
};
Loaded g_vocab[2];  // 0: gpt-2 (no NFC), 1: deepseek-r1-qwen (NFC, specials)

Loaded load(const std::string& path) {
  auto f = frugal::gguf::File::open(path);
  if (!f.ok()) {
    std::fprintf(stderr, "fuzz_tokenizer: %s\n", f.error().message.c_str());
    std::abort();
  }
  auto t = Tokenizer::from_gguf(**f);
  if (!t.ok()) {
    std::fprintf(stderr, "fuzz_tokenizer: %s: %s\n", path.c_str(), t.error().message.c_str());
    std::abort();
  }
  return {std::move(*f), std::move(*t)};
}

bool valid_utf8(std::string_view s) {
  return frugal::tokenizer::utf8_valid_prefix(s) == s.size();
}

// Decodes `ids` through a StreamDecoder and checks every delta.
void check_stream(const Tokenizer& tok, const std::vector<int32_t>& ids, bool special) {
  StreamDecoder sd(tok, special);
  std::string streamed;
  for (int32_t id : ids) {
    const std::string d = sd.push(id);
    FUZZ_CHECK(valid_utf8(d));
    streamed += d;
  }
  const std::string tail = sd.flush();
  FUZZ_CHECK(valid_utf8(tail));
  streamed += tail;
  const std::string whole = tok.decode(ids, special);
  if (valid_utf8(whole)) FUZZ_CHECK(streamed == whole);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // FRUGAL_FUZZ_VOCAB_DIR overrides the compiled-in path (e.g. on another machine).
  const char* env = std::getenv("FRUGAL_FUZZ_VOCAB_DIR");
  const std::string dir = env ? env : FRUGAL_SHARED_TESTDATA "/vocab";
  g_vocab[0] = load(dir + "/ggml-vocab-gpt-2.gguf");
  g_vocab[1] = load(dir + "/constructed-vocab-deepseek-r1-qwen.gguf");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t mode = data[0];
  const Tokenizer& tok = *g_vocab[mode & 1].tok;
  const bool is_gpt2 = (mode & 1) == 0;
  const std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  switch ((mode >> 1) & 3) {
    case 0:
    case 1: {  // encode arbitrary bytes, with or without special-token parsing
      const bool parse_special = ((mode >> 1) & 3) == 1;
      const std::vector<int32_t> ids = tok.encode(rest, parse_special);
      for (int32_t id : ids) FUZZ_CHECK(tok.valid(id));
      // Without special parsing no control token comes out of plain text
      // (DESIGN.md §4).
      if (!parse_special) {
        for (int32_t id : ids) FUZZ_CHECK(tok.vocab().types[id] != TokenType::Control);
      }
      if (is_gpt2 && !parse_special) FUZZ_CHECK(tok.decode(ids) == rest);
      check_stream(tok, ids, parse_special);
      break;
    }
    default: {  // decode arbitrary ids (little-endian int32, any value)
      const bool special = ((mode >> 1) & 3) == 3;
      std::vector<int32_t> ids(rest.size() / 4);
      if (!ids.empty()) std::memcpy(ids.data(), rest.data(), ids.size() * 4);
      for (int32_t& id : ids) {
        // Half the time fold into the vocabulary so decoding does real work.
        if (mode & 0x80) id = static_cast<int32_t>(static_cast<uint32_t>(id) % tok.n_vocab());
      }
      for (int32_t id : ids) {
        if (!tok.valid(id)) FUZZ_CHECK(tok.token_to_piece(id, special).empty());
      }
      check_stream(tok, ids, special);
      break;
    }
  }
  return 0;
}
