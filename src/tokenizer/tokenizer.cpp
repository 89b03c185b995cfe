// Tokenizer: vocab validation, special-token splitting, encode/decode.
// Pipeline of encode(): split out special tokens (leftmost-longest) ->
// NFC where the family normalizes -> pre-tokenizer regexes -> byte-level BPE.
#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <array>
#include <unordered_map>

#include "tokenizer/bpe.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/token_table.h"

namespace frugal::tokenizer {

struct Tokenizer::Impl {
  Vocab vocab;
  TokenTable token_ids;  // the token texts, and text -> first id
  // Decoded bytes of every id, pooled: id i is piece_bytes[piece_end[i-1],
  // piece_end[i]) (one string per id cost ~32 bytes each on top of the text).
  std::string piece_bytes;
  std::vector<uint64_t> piece_end;
  std::string_view piece(int32_t id) const {
    const uint64_t begin = id == 0 ? 0 : piece_end[static_cast<size_t>(id) - 1];
    return std::string_view(piece_bytes).substr(begin, piece_end[static_cast<size_t>(id)] - begin);
  }
  std::unique_ptr<PreTokenizer> pre;
  BpeModel bpe;
  // Tokens matched in the raw text before BPE, bucketed by first byte and
  // ordered longest first, so the first hit at a position is the longest.
  struct Special {
    std::string text;
    int32_t id;
    bool control;  // only matched with parse_special
  };
  std::array<std::vector<Special>, 256> specials_by_byte;
  std::vector<bool> eog;

  void encode_plain(std::string_view text, std::vector<int32_t>& out) const;
};

namespace {

// The byte a token of type Byte stands for: its text must be exactly
// "<0xHH>" (GGUF's byte-token spelling). Anything else ("<0x-1>", "<0xZZ>",
// "<0x100>") is refused at load rather than parsed leniently.
std::optional<uint8_t> byte_token_value(std::string_view t) {
  if (t.size() != 6 || t.substr(0, 3) != "<0x" || t[5] != '>') return std::nullopt;
  int v = 0;
  for (char c : t.substr(3, 2)) {
    v *= 16;
    if (c >= '0' && c <= '9') {
      v += c - '0';
    } else if (c >= 'A' && c <= 'F') {
      v += c - 'A' + 10;
    } else if (c >= 'a' && c <= 'f') {
      v += c - 'a' + 10;
    } else {
      return std::nullopt;
    }
  }
  return static_cast<uint8_t>(v);
}

bool is_eog_text(std::string_view t) {
  static constexpr std::string_view kEnds[] = {"<|im_end|>",    "<|eot_id|>",
                                               "<|eom_id|>",    "<｜end▁of▁sentence｜>",
                                               "<|endoftext|>", "<|end_of_text|>"};
  return std::find(std::begin(kEnds), std::end(kEnds), t) != std::end(kEnds);
}

}  // namespace

Tokenizer::Tokenizer() : impl_(std::make_unique<Impl>()) {}
Tokenizer::~Tokenizer() = default;

Result<std::unique_ptr<Tokenizer>> Tokenizer::from_vocab(Vocab v) {
  if (v.model != "gpt2") {
    return make_error("tokenizer.ggml.model: unsupported model '{}' (only 'gpt2' byte-level BPE)",
                      v.model);
  }
  if (v.tokens.empty()) return make_error("tokenizer.ggml.tokens: empty");
  if (v.tokens.size() > static_cast<size_t>(INT32_MAX)) {
    return make_error("tokenizer.ggml.tokens: {} entries is too many", v.tokens.size());
  }
  if (v.types.empty()) v.types.assign(v.tokens.size(), TokenType::Normal);
  if (v.types.size() != v.tokens.size()) {
    return make_error("tokenizer.ggml.token_type: length {} != tokenizer.ggml.tokens length {}",
                      v.types.size(), v.tokens.size());
  }
  const int32_t n = static_cast<int32_t>(v.tokens.size());
  struct NamedId {
    const char* field;
    int32_t id;
  };
  for (const NamedId& f :
       {NamedId{"bos_token_id", v.bos}, NamedId{"eos_token_id", v.eos},
        NamedId{"eot_token_id", v.eot}, NamedId{"eom_token_id", v.eom},
        NamedId{"padding_token_id", v.pad}, NamedId{"unknown_token_id", v.unk}}) {
    if (f.id < -1 || f.id >= n) {
      return make_error("tokenizer.ggml.{}: {} out of range [0, {})", f.field, f.id, n);
    }
  }
  FRUGAL_ASSIGN_OR_RETURN(PreTokenizerSpec spec, pre_tokenizer_spec(v.pre));
  FRUGAL_ASSIGN_OR_RETURN(auto pre, PreTokenizer::create(spec));

  std::unique_ptr<Tokenizer> t(new Tokenizer());
  Impl& im = *t->impl_;
  im.pre = std::move(pre);
  im.vocab = std::move(v);
  const Vocab& vs = im.vocab;
  im.token_ids = TokenTable(vs.tokens);
  im.piece_end.reserve(vs.tokens.size());
  im.eog.assign(vs.tokens.size(), false);
  for (int32_t id = 0; id < n; ++id) {
    const std::string& text = vs.tokens[id];
    const TokenType ty = vs.types[id];
    const int32_t raw_type = static_cast<int32_t>(ty);
    if (raw_type < 0 || raw_type > 6) {
      return make_error("tokenizer.ggml.token_type[{}]: unknown type {}", id, raw_type);
    }
    switch (ty) {
      case TokenType::Control:
      case TokenType::UserDefined:
      case TokenType::Unknown:
        im.piece_bytes += text;
        break;
      case TokenType::Unused:
        break;  // decodes to nothing
      case TokenType::Byte: {
        const std::optional<uint8_t> b = byte_token_value(text);
        if (!b) {
          return make_error(
              "tokenizer.ggml.tokens[{}]: a byte token (token_type 6) must be written <0xHH>, "
              "got {} bytes of other text",
              id, text.size());
        }
        im.piece_bytes += static_cast<char>(*b);
        break;
      }
      default:
        im.piece_bytes += byte_level_decode(text);
    }
    im.piece_end.push_back(im.piece_bytes.size());
    if ((ty == TokenType::Control || ty == TokenType::UserDefined) && !text.empty()) {
      im.specials_by_byte[static_cast<uint8_t>(text[0])].push_back(
          {text, id, ty == TokenType::Control});
    }
    if (ty == TokenType::Control && is_eog_text(text)) im.eog[id] = true;
  }
  im.piece_bytes.shrink_to_fit();
  for (int32_t id : {vs.eos, vs.eot, vs.eom}) {
    if (id >= 0) im.eog[id] = true;
  }
  for (auto& bucket : im.specials_by_byte) {
    std::stable_sort(bucket.begin(), bucket.end(),
                     [](const Impl::Special& a, const Impl::Special& b) {
                       return a.text.size() > b.text.size();
                     });
  }
  // Some vocabs (SmolLM2) lack a few control-byte tokens; such bytes are
  // dropped when encoding, as llama.cpp and HF do. A vocab missing most of
  // them is not byte-level at all.
  std::vector<int32_t> byte_ids(256, -1);
  int missing = 0, first_missing = -1;
  for (int b = 0; b < 256; ++b) {
    if (const auto id = im.token_ids.find(byte_to_unicode(static_cast<uint8_t>(b)))) {
      byte_ids[b] = *id;
    } else if (missing++ == 0) {
      first_missing = b;
    }
  }
  if (missing > 128) {
    return make_error("tokenizer.ggml.tokens: {} of 256 byte tokens missing (first: byte 0x{:02X})",
                      missing, first_missing);
  }
  im.bpe.set_byte_tokens(byte_ids);
  im.bpe.build(im.token_ids, vs.merges);
  // The token table holds the texts and the BPE table the merges by id now;
  // the vocabulary's own copies are not kept.
  im.vocab.tokens.clear();
  im.vocab.tokens.shrink_to_fit();
  im.vocab.merges.clear();
  im.vocab.merges.shrink_to_fit();
  return t;
}

void Tokenizer::Impl::encode_plain(std::string_view text, std::vector<int32_t>& out) const {
  if (text.empty()) return;
  std::string normalized;
  if (pre->spec().nfc) {
    normalized = nfc_normalize(text);
    text = normalized;
  }
  std::vector<std::string_view> words;
  pre->split(text, words);
  std::string mapped;
  for (std::string_view w : words) {
    if (pre->spec().ignore_merges) {
      mapped.clear();
      append_byte_level(w, mapped);
      if (const auto id = token_ids.find(mapped)) {
        out.push_back(*id);
        continue;
      }
    }
    bpe.encode_piece(w, out);
  }
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool parse_special) const {
  std::vector<int32_t> out;
  size_t plain_start = 0, i = 0;
  while (i < text.size()) {
    const Impl::Special* hit = nullptr;
    for (const Impl::Special& s : impl_->specials_by_byte[static_cast<uint8_t>(text[i])]) {
      if (s.control && !parse_special) continue;
      if (text.compare(i, s.text.size(), s.text) == 0) {
        hit = &s;
        break;
      }
    }
    if (!hit) {
      ++i;
      continue;
    }
    impl_->encode_plain(text.substr(plain_start, i - plain_start), out);
    out.push_back(hit->id);
    i += hit->text.size();
    plain_start = i;
  }
  impl_->encode_plain(text.substr(plain_start), out);
  return out;
}

std::string Tokenizer::token_to_piece(int32_t id, bool special) const {
  if (!valid(id)) return {};
  if (!special && impl_->vocab.types[id] == TokenType::Control) return {};
  return std::string(impl_->piece(id));
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool special) const {
  std::string out;
  for (int32_t id : ids) out += token_to_piece(id, special);
  return out;
}

int32_t Tokenizer::n_vocab() const {
  return static_cast<int32_t>(impl_->piece_end.size());
}
const Vocab& Tokenizer::vocab() const {
  return impl_->vocab;
}

std::string_view Tokenizer::token_text(int32_t id) const {
  return valid(id) ? impl_->token_ids.text(id) : std::string_view();
}

std::optional<int32_t> Tokenizer::find_token(std::string_view piece_text) const {
  return impl_->token_ids.find(piece_text);
}

bool Tokenizer::is_eog(int32_t id) const {
  return valid(id) && impl_->eog[id];
}

}  // namespace frugal::tokenizer
