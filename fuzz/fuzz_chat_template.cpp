// Fuzz target: chat-template rendering of arbitrary conversations in all
// three families (src/chat). The input is split at 0x1E (record separator)
// into pieces: the first piece is a header (family, flags) followed by a
// template source for family detection; each later piece is one message
// whose first byte picks the role and whose rest is the content.
// Flags: bits 0-1 family, 2 generation prompt, 3 detect the family from the
// source instead, 4 thinking off.
// Checked properties (chat/chat_template.h): render succeeds exactly when
// the conversation is non-empty and every role is system/user/assistant;
// a failure names a field and never repeats the content; detection and
// template_from_model accept any source without crashing.
#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "chat/chat_template.h"
#include "chat/template_families.h"
#include "fuzz_check.h"

namespace {

using frugal::chat::Message;
using frugal::chat::Template;
using frugal::chat::TemplateKind;

constexpr char kSep = '\x1e';
constexpr std::string_view kRoles[] = {"system", "user", "assistant", "developer", "tool", ""};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> pieces;
  for (size_t start = 0;;) {
    const size_t sep = in.find(kSep, start);
    pieces.push_back(in.substr(start, sep == std::string_view::npos ? sep : sep - start));
    if (sep == std::string_view::npos) break;
    start = sep + 1;
  }
  const std::string_view head = pieces[0];
  const uint8_t flags = head.empty() ? 0 : static_cast<uint8_t>(head[0]);
  const std::string_view source = head.empty() ? head : head.substr(1);
  const TemplateKind kinds[] = {TemplateKind::DeepSeekR1, TemplateKind::ChatML,
                                TemplateKind::Llama3};
  const TemplateKind forced = kinds[(flags & 3) % 3];
  const bool add_generation_prompt = flags & 4;
  const bool detect = flags & 8;

  (void)frugal::chat::detect_template_kind(source);
  auto t = frugal::chat::template_from_model(
      source, "<bos>", "<eos>", detect ? std::nullopt : std::optional<TemplateKind>(forced));
  if (!t.ok()) {
    FUZZ_CHECK(detect);  // a forced family always gives a template
    return 0;
  }
  Template tmpl = std::move(*t);
  if (flags & 16) tmpl.set_enable_thinking(false);

  std::vector<Message> messages;
  bool all_roles_known = true;
  for (size_t i = 1; i < pieces.size(); ++i) {
    const std::string_view p = pieces[i];
    const uint8_t r = p.empty() ? 1 : static_cast<uint8_t>(p[0]);
    const std::string_view role = kRoles[r % std::size(kRoles)];
    all_roles_known =
        all_roles_known && (role == "system" || role == "user" || role == "assistant");
    messages.push_back({std::string(role), std::string(p.empty() ? p : p.substr(1))});
  }
  auto r = tmpl.render(messages, add_generation_prompt);
  FUZZ_CHECK(r.ok() == (!messages.empty() && all_roles_known));
  if (!r.ok()) {
    FUZZ_CHECK(frugal::fuzz::starts_with(r.error().message, "messages"));
    // DESIGN §8: an error never carries message content. Our messages are
    // short printable ASCII, so a content with any other byte must not appear
    // in one (a plain-ASCII content may coincide with our own wording).
    FUZZ_CHECK(r.error().message.size() <= 128);
    for (const Message& m : messages) {
      const bool unusual = std::any_of(m.content.begin(), m.content.end(), [](char c) {
        return static_cast<uint8_t>(c) < 0x20 || static_cast<uint8_t>(c) >= 0x7F;
      });
      if (unusual) FUZZ_CHECK(r.error().message.find(m.content) == std::string::npos);
    }
    return 0;
  }
  // Every family writes user turns verbatim; Llama 3 strips them of
  // whitespace first (Python's str.strip, which the golden test pins down).
  for (const Message& m : messages) {
    if (m.role != "user") continue;
    const std::string_view c = tmpl.kind() == TemplateKind::Llama3
                                   ? frugal::chat::detail::python_strip(m.content)
                                   : std::string_view(m.content);
    FUZZ_CHECK(r->find(c) != std::string::npos);
  }
  return 0;
}
