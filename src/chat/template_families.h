// Renderers of the three template families (internal to src/chat). Each one
// reproduces, byte for byte, what its Jinja template produces for a
// conversation of system/user/assistant messages; the messages are already
// validated by Template::render.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "chat/chat_template.h"

namespace frugal::chat::detail {

std::string render_deepseek_r1(std::span<const Message> messages, bool add_generation_prompt,
                               const TemplateOptions& opt);
std::string render_chatml(std::span<const Message> messages, bool add_generation_prompt,
                          const TemplateOptions& opt);
std::string render_llama3(std::span<const Message> messages, bool add_generation_prompt,
                          const TemplateOptions& opt);

// Python's str.strip() with no argument (what Jinja's `trim` filter calls):
// removes Unicode whitespace, not only ASCII, at both ends. Invalid UTF-8 is
// treated as non-whitespace.
std::string_view python_strip(std::string_view s);

}  // namespace frugal::chat::detail
