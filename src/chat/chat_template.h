// Chat templates per model family, written in C++ rather than interpreted from
// Jinja: the three families below cover the R1 distills, Qwen/SmolLM2 and
// Llama 3, and each rendering is checked byte-for-byte against Python jinja2
// applied to the model's real template (tests/chat_template_test.cpp).
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "common/result.h"

namespace frugal::chat {

struct Message {
  std::string role;     // "system" | "user" | "assistant"
  std::string content;
};

enum class TemplateKind { DeepSeekR1, ChatML, Llama3 };

std::string_view template_kind_name(TemplateKind k);
// "deepseek-r1" | "chatml" | "llama3"
std::optional<TemplateKind> parse_template_kind(std::string_view name);
// Recognizes the family from a model's `tokenizer.chat_template` source.
std::optional<TemplateKind> detect_template_kind(std::string_view jinja_source);

struct TemplateOptions {
  std::string bos_token;  // text of the BOS token, where the template emits it
  std::string eos_token;
  // ChatML default system prompt when the conversation has none (empty = none).
  // Qwen2.5 and SmolLM2 templates each carry their own.
  std::string default_system;
};

class Template {
 public:
  Template(TemplateKind kind, TemplateOptions opt) : kind_(kind), opt_(std::move(opt)) {}
  TemplateKind kind() const { return kind_; }

  // The prompt text for `messages`; with add_generation_prompt it ends where
  // the assistant's reply begins (for R1, after "<think>\n").
  Result<std::string> render(std::span<const Message> messages, bool add_generation_prompt) const;

  // True when the generation prompt already opened a reasoning block, so the
  // model's output starts inside <think>.
  bool prompt_opens_reasoning() const { return kind_ == TemplateKind::DeepSeekR1; }

 private:
  TemplateKind kind_;
  TemplateOptions opt_;
};

}  // namespace frugal::chat
