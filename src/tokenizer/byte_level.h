// GPT-2 byte-level mapping: every byte 0..255 gets a printable Unicode code
// point, so BPE vocabularies store arbitrary bytes as ordinary text (a space
// is "Ġ" U+0120, a newline "Ċ" U+010A). The table is a fact of the format:
// printable Latin-1 bytes ('!'..'~', '¡'..'¬', '®'..'ÿ') map to themselves,
// the remaining 68 bytes map, in byte order, to U+0100, U+0101, ...
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace frugal::tokenizer {

// The UTF-8 text of the code point that stands for `byte`.
const std::string& byte_to_unicode(uint8_t byte);

// Appends the byte-level text of `bytes` to `out`.
void append_byte_level(std::string_view bytes, std::string& out);

// Undoes the mapping for a token's text. Code points outside the table (not
// produced by the mapping) are copied through as their UTF-8, since a vocab
// may contain such pieces and dropping them would lose text.
std::string byte_level_decode(std::string_view text);

// Decodes one UTF-8 code point at `s[i]`; returns its length in bytes (1..4),
// or 0 when the bytes there are not a complete, valid sequence.
size_t utf8_decode(std::string_view s, size_t i, uint32_t* cp);

// Length of the longest prefix of `s` that is valid UTF-8.
size_t utf8_valid_prefix(std::string_view s);

void append_utf8(uint32_t cp, std::string& out);

}  // namespace frugal::tokenizer
