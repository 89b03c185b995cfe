// The facts reproduced here come from each family's published Jinja template
// (DeepSeek-R1 distills, Qwen2.5 / SmolLM2 ChatML, Llama 3.1 Instruct); the
// golden test renders the real templates with jinja2 and compares bytes.
#include "chat/template_families.h"

#include <cstdint>
#include <optional>

namespace frugal::chat::detail {
namespace {

constexpr std::string_view kR1User = "<｜User｜>";
constexpr std::string_view kR1Assistant = "<｜Assistant｜>";
// The R1 templates write this literal rather than {{eos_token}}.
constexpr std::string_view kR1EndOfSentence = "<｜end▁of▁sentence｜>";
constexpr std::string_view kThinkClose = "</think>";

// Decodes one UTF-8 code point starting at s[i]; nullopt when malformed.
std::optional<std::pair<char32_t, size_t>> decode_at(std::string_view s, size_t i) {
  const auto b0 = static_cast<uint8_t>(s[i]);
  size_t len = 0;
  char32_t cp = 0;
  if (b0 < 0x80) return std::pair<char32_t, size_t>{b0, 1};
  if ((b0 & 0xE0) == 0xC0) {
    len = 2;
    cp = b0 & 0x1F;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3;
    cp = b0 & 0x0F;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4;
    cp = b0 & 0x07;
  } else
    return std::nullopt;
  if (i + len > s.size()) return std::nullopt;
  for (size_t k = 1; k < len; ++k) {
    const auto b = static_cast<uint8_t>(s[i + k]);
    if ((b & 0xC0) != 0x80) return std::nullopt;
    cp = (cp << 6) | (b & 0x3F);
  }
  return std::pair<char32_t, size_t>{cp, len};
}

// Python's str.isspace() set (Unicode White_Space plus the ASCII separators
// U+001C..U+001F that Python also counts).
bool is_python_space(char32_t c) {
  if (c == ' ' || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F)) return true;
  if (c < 0x80) return false;
  switch (c) {
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000:
      return true;
    default:
      return c >= 0x2000 && c <= 0x200A;
  }
}

}  // namespace

std::string_view python_strip(std::string_view s) {
  size_t begin = 0;
  while (begin < s.size()) {
    auto d = decode_at(s, begin);
    if (!d || !is_python_space(d->first)) break;
    begin += d->second;
  }
  size_t end = s.size();
  while (end > begin) {
    // Step back to the start of the last code point (at most 4 bytes).
    size_t start = end - 1;
    while (start > begin && end - start < 4 && (static_cast<uint8_t>(s[start]) & 0xC0) == 0x80)
      --start;
    auto d = decode_at(s, start);
    if (!d || start + d->second != end || !is_python_space(d->first)) break;
    end = start;
  }
  return s.substr(begin, end - begin);
}

// DeepSeek-R1: BOS, then the last system message's text with no tag, then
// the turns. Earlier assistant turns keep only what follows their last
// "</think>", so old reasoning never re-enters the context.
std::string render_deepseek_r1(std::span<const Message> messages, bool add_generation_prompt,
                               const TemplateOptions& opt) {
  std::string_view system;
  for (const Message& m : messages)
    if (m.role == "system") system = m.content;
  std::string out = opt.bos_token;
  out += system;
  for (const Message& m : messages) {
    if (m.role == "user") {
      out += kR1User;
      out += m.content;
    } else if (m.role == "assistant") {
      std::string_view content = m.content;
      if (size_t pos = content.rfind(kThinkClose); pos != std::string_view::npos)
        content.remove_prefix(pos + kThinkClose.size());
      out += kR1Assistant;
      out += content;
      out += kR1EndOfSentence;
    }
  }
  if (add_generation_prompt) {
    out += kR1Assistant;
    out += "<think>\n";
    if (opt.thinking_switch && !opt.enable_thinking) out += kThinkClose;
  }
  return out;
}

// ChatML (Qwen2.5, SmolLM2): every message as <|im_start|>role\n…<|im_end|>\n;
// a conversation that does not open with a system message gets the model's
// default one (if it has one).
std::string render_chatml(std::span<const Message> messages, bool add_generation_prompt,
                          const TemplateOptions& opt) {
  std::string out;
  auto turn = [&out](std::string_view role, std::string_view content) {
    out += "<|im_start|>";
    out += role;
    out += '\n';
    out += content;
    out += "<|im_end|>\n";
  };
  if (messages.front().role != "system" && !opt.default_system.empty())
    turn("system", opt.default_system);
  for (const Message& m : messages) turn(m.role, m.content);
  if (add_generation_prompt) out += "<|im_start|>assistant\n";
  return out;
}

// Llama 3.1: BOS, a system header that always carries the knowledge/today
// dates (plus the first message when it is a system one), then each message
// with its content trimmed of whitespace.
std::string render_llama3(std::span<const Message> messages, bool add_generation_prompt,
                          const TemplateOptions& opt) {
  std::string out = opt.bos_token;
  std::string_view system;
  if (messages.front().role == "system") {
    system = python_strip(messages.front().content);
    messages = messages.subspan(1);
  }
  out += "<|start_header_id|>system<|end_header_id|>\n\n";
  out += "Cutting Knowledge Date: December 2023\n";
  out += "Today Date: ";
  out += opt.date_string;
  out += "\n\n";
  out += system;
  out += "<|eot_id|>";
  for (const Message& m : messages) {
    out += "<|start_header_id|>";
    out += m.role;
    out += "<|end_header_id|>\n\n";
    out += python_strip(m.content);
    out += "<|eot_id|>";
  }
  if (add_generation_prompt) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
  return out;
}

}  // namespace frugal::chat::detail
