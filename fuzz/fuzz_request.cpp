// Fuzz target: the server's request parsing and validation (src/server/api.h)
// on arbitrary bodies, through all three parsers (OpenAI chat, OpenAI text
// completion, Ollama chat), under two server limit settings. Checked
// properties: an error is a 4xx whose body serializes and whose message is
// non-empty; a success holds only values inside the documented ranges, and
// the sampling parameters pass the runtime's own validation (so nothing the
// parser accepts fails later).
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "server/api.h"

namespace {

using namespace frugal::server;

void check_error(const ApiError& e) {
  FUZZ_CHECK(e.status >= 400 && e.status < 500);
  FUZZ_CHECK(!e.message.empty());
  const std::string body = error_body(e).dump();
  FUZZ_CHECK(json::parse(body)["error"]["message"] == e.message);
}

void check_gen(const GenParams& g, const Limits& lim) {
  const auto& s = g.sampling;
  FUZZ_CHECK(s.validate().ok());
  FUZZ_CHECK(std::isfinite(s.temperature) && s.temperature >= 0 && s.temperature <= 2);
  FUZZ_CHECK(std::isfinite(s.top_p) && s.top_p > 0 && s.top_p <= 1);
  FUZZ_CHECK(s.min_p >= 0 && s.min_p <= 1);
  FUZZ_CHECK(s.top_k >= 0);
  FUZZ_CHECK(std::isfinite(s.presence_penalty) && std::isfinite(s.frequency_penalty));
  FUZZ_CHECK(std::isfinite(s.repetition_penalty) && s.repetition_penalty > 0);
  FUZZ_CHECK(g.max_tokens == -1 || g.max_tokens >= 1);
  if (lim.max_tokens_cap > 0) FUZZ_CHECK(g.max_tokens <= lim.max_tokens_cap);
  FUZZ_CHECK(g.reasoning_budget >= -1);
  FUZZ_CHECK(g.stop.size() <= lim.max_stop);
  for (const std::string& st : g.stop) FUZZ_CHECK(!st.empty() && st.size() <= lim.max_stop_bytes);
}

void check_messages(const std::vector<frugal::chat::Message>& m, const Limits& lim) {
  FUZZ_CHECK(!m.empty() && m.size() <= lim.max_messages);
  for (const auto& msg : m)
    FUZZ_CHECK(msg.role == "system" || msg.role == "user" || msg.role == "assistant");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  ApiError err;
  const std::optional<json> j = parse_body(body, err);
  if (!j) {
    check_error(err);
    return 0;
  }
  FUZZ_CHECK(j->is_object());
  Limits tight;
  tight.max_tokens_cap = 64;
  tight.max_messages = 4;
  tight.max_stop = 2;
  tight.max_stop_bytes = 8;
  for (const Limits& lim : {Limits{}, tight}) {
    ChatParams chat;
    if (auto e = parse_chat_request(*j, lim, chat)) {
      check_error(*e);
    } else {
      check_messages(chat.messages, lim);
      check_gen(chat.gen, lim);
    }
    CompletionParams comp;
    if (auto e = parse_completion_request(*j, lim, comp)) {
      check_error(*e);
    } else {
      FUZZ_CHECK(!comp.prompt.empty());
      check_gen(comp.gen, lim);
    }
    ChatParams ollama;
    if (auto e = parse_ollama_chat(*j, lim, ollama)) {
      check_error(*e);
    } else {
      check_messages(ollama.messages, lim);
      check_gen(ollama.gen, lim);
    }
  }
  return 0;
}
