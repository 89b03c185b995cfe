// Family detection, model-specific details read from a template's source, and
// validation of conversations before they reach a family's renderer.
#include "chat/chat_template.h"

#include <array>

#include "chat/template_families.h"

namespace frugal::chat {
namespace {

bool contains(std::string_view s, std::string_view needle) {
  return s.find(needle) != std::string_view::npos;
}

// Undoes the escapes of a Jinja string literal that occur in template text.
std::string unescape_jinja_literal(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\' || i + 1 == s.size()) {
      out += s[i];
      continue;
    }
    const char c = s[++i];
    switch (c) {
      case 'n':
        out += '\n';
        break;
      case 't':
        out += '\t';
        break;
      case 'r':
        out += '\r';
        break;
      default:
        out += c;
        break;  // \\ \' \"
    }
  }
  return out;
}

// ChatML templates hard-code their default system turn as a string literal,
// "<|im_start|>system\n<text><|im_end|>", with the newline either escaped
// (Qwen2.5) or literal (SmolLM2). A system turn built from
// messages[0]['content'] ends the literal before <|im_end|>, so a quote or a
// brace in the captured text means "not a default".
std::string chatml_default_system(std::string_view src) {
  constexpr std::string_view kOpen = "<|im_start|>system";
  constexpr std::string_view kEnd = "<|im_end|>";
  for (size_t pos = src.find(kOpen); pos != std::string_view::npos;
       pos = src.find(kOpen, pos + 1)) {
    size_t text = pos + kOpen.size();
    if (src.substr(text, 2) == "\\n") {
      text += 2;
    } else if (src.substr(text, 1) == "\n") {
      text += 1;
    } else {
      continue;
    }
    const size_t end = src.find(kEnd, text);
    if (end == std::string_view::npos) return {};
    const std::string_view raw = src.substr(text, end - text);
    if (raw.find_first_of("'\"{}") != std::string_view::npos) continue;
    return unescape_jinja_literal(raw);
  }
  return {};
}

// Llama 3.1 sets `date_string` to a fixed default unless the caller passes one.
std::optional<std::string> llama3_date_string(std::string_view src) {
  constexpr std::string_view kSet = "set date_string = \"";
  const size_t pos = src.find(kSet);
  if (pos == std::string_view::npos) return std::nullopt;
  const size_t begin = pos + kSet.size();
  const size_t end = src.find('"', begin);
  if (end == std::string_view::npos || end - begin > 64) return std::nullopt;
  return std::string(src.substr(begin, end - begin));
}

// A role is named in an error only when it is short and plainly an
// identifier; anything else could be user text (DESIGN §8).
std::string describe_role(std::string_view role) {
  bool plain = !role.empty() && role.size() <= 24;
  for (char c : role)
    plain = plain && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '-');
  return plain ? "'" + std::string(role) + "'" : "(" + std::to_string(role.size()) + " bytes)";
}

}  // namespace

std::string_view template_kind_name(TemplateKind k) {
  switch (k) {
    case TemplateKind::DeepSeekR1:
      return "deepseek-r1";
    case TemplateKind::ChatML:
      return "chatml";
    case TemplateKind::Llama3:
      return "llama3";
  }
  return "unknown";
}

std::optional<TemplateKind> parse_template_kind(std::string_view name) {
  struct Alias {
    std::string_view name;
    TemplateKind kind;
  };
  static constexpr std::array<Alias, 8> kAliases{{
      {"deepseek-r1", TemplateKind::DeepSeekR1},
      {"deepseek_r1", TemplateKind::DeepSeekR1},
      {"r1", TemplateKind::DeepSeekR1},
      {"chatml", TemplateKind::ChatML},
      {"qwen", TemplateKind::ChatML},
      {"llama3", TemplateKind::Llama3},
      {"llama-3", TemplateKind::Llama3},
      {"llama3.1", TemplateKind::Llama3},
  }};
  for (const Alias& a : kAliases)
    if (a.name == name) return a.kind;
  return std::nullopt;
}

std::optional<TemplateKind> detect_template_kind(std::string_view src) {
  if (contains(src, "<｜User｜>") && contains(src, "<｜Assistant｜>")) {
    // DeepSeek-V3.1 writes "<think></think>" for non-thinking turns and puts
    // no newline after <think>: a different format from the R1 distills.
    if (contains(src, "<think></think>")) return std::nullopt;
    return TemplateKind::DeepSeekR1;
  }
  if (contains(src, "<|start_header_id|>") && contains(src, "<|eot_id|>"))
    return TemplateKind::Llama3;
  if (contains(src, "<|im_start|>") && contains(src, "<|im_end|>")) {
    // QwQ-style ChatML strips old reasoning and opens <think> itself.
    if (contains(src, "<think>")) return std::nullopt;
    return TemplateKind::ChatML;
  }
  return std::nullopt;
}

Result<Template> template_from_model(std::string_view src, std::string bos_token,
                                     std::string eos_token,
                                     std::optional<TemplateKind> forced_kind) {
  std::optional<TemplateKind> kind = forced_kind;
  if (!kind) {
    if (src.empty())
      return make_error(
          "tokenizer.chat_template: missing from the model; choose one with --chat-template "
          "deepseek-r1|chatml|llama3");
    kind = detect_template_kind(src);
    if (!kind)
      return make_error(
          "tokenizer.chat_template: unrecognized template family ({} bytes); choose one with "
          "--chat-template deepseek-r1|chatml|llama3",
          src.size());
  }
  TemplateOptions opt;
  opt.bos_token = std::move(bos_token);
  opt.eos_token = std::move(eos_token);
  switch (*kind) {
    case TemplateKind::DeepSeekR1:
      opt.thinking_switch = contains(src, "enable_thinking");
      break;
    case TemplateKind::ChatML:
      opt.default_system = chatml_default_system(src);
      break;
    case TemplateKind::Llama3:
      if (auto date = llama3_date_string(src)) opt.date_string = std::move(*date);
      break;
  }
  return Template(*kind, std::move(opt));
}

Result<std::string> Template::render(std::span<const Message> messages,
                                     bool add_generation_prompt) const {
  if (messages.empty()) return make_error("messages: empty conversation (need at least one)");
  for (size_t i = 0; i < messages.size(); ++i) {
    const std::string& role = messages[i].role;
    if (role != "system" && role != "user" && role != "assistant")
      return make_error(
          "messages[{}].role: unsupported role {} (expected system, user or assistant)", i,
          describe_role(role));
  }
  switch (kind_) {
    case TemplateKind::DeepSeekR1:
      return detail::render_deepseek_r1(messages, add_generation_prompt, opt_);
    case TemplateKind::ChatML:
      return detail::render_chatml(messages, add_generation_prompt, opt_);
    case TemplateKind::Llama3:
      return detail::render_llama3(messages, add_generation_prompt, opt_);
  }
  return make_error("template kind: invalid value {}", static_cast<int>(kind_));
}

}  // namespace frugal::chat
