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
  std::string role;  // "system" | "user" | "assistant"
  std::string content;
};

enum class TemplateKind { DeepSeekR1, ChatML, Llama3 };

std::string_view template_kind_name(TemplateKind k);
// "deepseek-r1" | "chatml" | "llama3" (also accepts "r1", "qwen", "llama-3").
std::optional<TemplateKind> parse_template_kind(std::string_view name);
// Recognizes the family from a model's `tokenizer.chat_template` source.
// Templates of related but differently formatted families (QwQ, DeepSeek-V3.1)
// are not recognized: rendering them as one of ours would silently differ.
std::optional<TemplateKind> detect_template_kind(std::string_view jinja_source);

struct TemplateOptions {
  std::string bos_token;  // text of the BOS token, where the template emits it
  std::string eos_token;
  // ChatML default system prompt when the conversation has none (empty = none).
  // Qwen2.5 and SmolLM2 templates each carry their own.
  std::string default_system;
  // Llama 3: the "Today Date:" line of the system header (the template's default).
  std::string date_string = "26 Jul 2024";
  // DeepSeek-R1: some revisions of the template close the reasoning block
  // right after opening it ("<think>\n</think>") unless `enable_thinking` is
  // set. `thinking_switch` records that the template has this switch;
  // `enable_thinking` is what we pass to it (we want the reasoning).
  bool thinking_switch = false;
  bool enable_thinking = true;
};

class Template {
 public:
  Template(TemplateKind kind, TemplateOptions opt) : kind_(kind), opt_(std::move(opt)) {}
  TemplateKind kind() const { return kind_; }
  const TemplateOptions& options() const { return opt_; }
  void set_enable_thinking(bool on) { opt_.enable_thinking = on; }

  // The prompt text for `messages`; with add_generation_prompt it ends where
  // the assistant's reply begins (for R1, after "<think>\n"). The text holds
  // special-token texts (BOS included where the template emits it), so it is
  // tokenized with special tokens parsed and without adding another BOS.
  // Errors: empty conversation, unknown role.
  Result<std::string> render(std::span<const Message> messages, bool add_generation_prompt) const;

  // True when the generation prompt already opened a reasoning block, so the
  // model's output starts inside <think>.
  bool prompt_opens_reasoning() const {
    return kind_ == TemplateKind::DeepSeekR1 && !(opt_.thinking_switch && !opt_.enable_thinking);
  }

 private:
  TemplateKind kind_;
  TemplateOptions opt_;
};

// Builds the Template for a model from its GGUF metadata: the family is
// detected from `tokenizer.chat_template` (or forced, e.g. by the user's
// --chat-template), and model-specific details (ChatML's default system
// prompt, Llama 3's date, R1's thinking switch) are read from the source.
// An unrecognized or missing source without a forced kind is an error that
// names the --chat-template option.
Result<Template> template_from_model(std::string_view chat_template_source, std::string bos_token,
                                     std::string eos_token,
                                     std::optional<TemplateKind> forced_kind = std::nullopt);

}  // namespace frugal::chat
