// Fuzz target: the SSE writer (server::sse_event) and the error body, fed the
// chunk shape the chat route sends (generate_routes.cpp) with arbitrary text
// in its content and reasoning fields. Checked properties of the framing
// (the WHATWG server-sent events format): each event is one "data: " line
// ended by a blank line, so no raw CR or LF may appear inside it (text that
// could end the event early and inject another); the data parses back as
// JSON; and valid UTF-8 text comes back unchanged.
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "server/api.h"
#include "tokenizer/byte_level.h"

namespace {

using frugal::server::json;

void check_event(const std::string& ev, const std::string& text, const char* field) {
  FUZZ_CHECK(frugal::fuzz::starts_with(ev, "data: "));
  FUZZ_CHECK(ev.size() >= 8 && ev.compare(ev.size() - 2, 2, "\n\n") == 0);
  const std::string_view inner(ev.data() + 6, ev.size() - 8);
  FUZZ_CHECK(inner.find_first_of("\r\n") == std::string_view::npos);
  const json back = json::parse(inner, nullptr, /*allow_exceptions=*/false);
  FUZZ_CHECK(!back.is_discarded());
  const bool valid = frugal::tokenizer::utf8_valid_prefix(text) == text.size();
  if (valid) FUZZ_CHECK(back["choices"][0]["delta"][field] == text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  for (const char* field : {"content", "reasoning_content"}) {
    const json chunk = {
        {"id", "chatcmpl-0123456789abcdef"},
        {"object", "chat.completion.chunk"},
        {"created", 0},
        {"model", "m"},
        {"choices",
         json::array({{{"index", 0}, {"delta", {{field, text}}}, {"finish_reason", nullptr}}})}};
    check_event(frugal::server::sse_event(chunk), text, field);
  }
  // The error body travels as an SSE event too; its message is ours.
  frugal::server::ApiError e = frugal::server::invalid("messages", "a message");
  const std::string ev = frugal::server::sse_event(frugal::server::error_body(e));
  FUZZ_CHECK(frugal::fuzz::starts_with(ev, "data: {\"error\""));
  return 0;
}
