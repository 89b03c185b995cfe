// StreamDecoder: emits only whole UTF-8 characters. A tail that could still
// become a valid character (at most 3 bytes of a 2-4 byte sequence) is held;
// bytes that can never become valid are replaced by U+FFFD right away, so
// every delta is valid UTF-8.
#include "tokenizer/byte_level.h"
#include "tokenizer/tokenizer.h"

namespace frugal::tokenizer {
namespace {

// True if s[i..] is a proper prefix of some valid UTF-8 sequence.
bool incomplete_prefix(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
  const uint8_t b0 = b(i);
  size_t len;
  if (b0 >= 0xC2 && b0 <= 0xDF)
    len = 2;
  else if (b0 >= 0xE0 && b0 <= 0xEF)
    len = 3;
  else if (b0 >= 0xF0 && b0 <= 0xF4)
    len = 4;
  else
    return false;
  const size_t have = s.size() - i;
  if (have >= len) return false;
  for (size_t k = 1; k < have; ++k) {
    const uint8_t c = b(i + k);
    // Second-byte ranges exclude overlongs, surrogates and > U+10FFFF.
    uint8_t lo = 0x80, hi = 0xBF;
    if (k == 1) {
      if (b0 == 0xE0) lo = 0xA0;
      if (b0 == 0xED) hi = 0x9F;
      if (b0 == 0xF0) lo = 0x90;
      if (b0 == 0xF4) hi = 0x8F;
    }
    if (c < lo || c > hi) return false;
  }
  return true;
}

// Moves the complete part of `pending` to the returned string; with `final`
// nothing is held back.
std::string drain(std::string& pending, bool final) {
  std::string out;
  size_t i = 0;
  while (i < pending.size()) {
    uint32_t cp;
    const size_t n = utf8_decode(pending, i, &cp);
    if (n > 0) {
      out.append(pending, i, n);
      i += n;
    } else if (!final && incomplete_prefix(pending, i)) {
      break;
    } else {
      out += "\xEF\xBF\xBD";  // U+FFFD for one undecodable byte
      ++i;
    }
  }
  pending.erase(0, i);
  return out;
}

}  // namespace

std::string StreamDecoder::push(int32_t id) {
  pending_ += tok_.token_to_piece(id, special_);
  return drain(pending_, /*final=*/false);
}

std::string StreamDecoder::flush() {
  return drain(pending_, /*final=*/true);
}

}  // namespace frugal::tokenizer
