// The wire formats of the server, as pure functions (no sockets, no model):
// request bodies parsed and validated into plain structs, errors in OpenAI's
// shape, SSE framing. Every rejection names the field and the accepted range
// and never repeats what the client sent (DESIGN §8: no user content in
// error messages).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chat/chat_template.h"
#include "runtime/sampling.h"

namespace frugal::server {

using json = nlohmann::json;

struct ApiError {
  int status = 400;
  std::string type = "invalid_request_error";
  std::string code;   // e.g. "invalid_value", "context_length_exceeded"
  std::string param;  // the offending field, "" when none
  std::string message;
};

// {"error": {"message", "type", "param", "code"}}
json error_body(const ApiError& e);
ApiError invalid(std::string param, std::string message, std::string code = "invalid_value");

// Server-wide limits applied while parsing.
struct Limits {
  int32_t max_tokens_cap = 0;  // 0: no cap beyond the context
  size_t max_messages = 1024;
  size_t max_stop = 16;
  size_t max_stop_bytes = 256;
};

// Reasoning budgets for reasoning_effort (README documents them).
inline constexpr int32_t kEffortLow = 256;
inline constexpr int32_t kEffortMedium = 1024;
inline constexpr int32_t kEffortHigh = 4096;

// Fields shared by chat and text completions.
struct GenParams {
  std::string model;
  runtime::SamplingParams sampling;
  bool has_seed = false;
  int32_t max_tokens = -1;  // -1: not given (the server applies its cap / the context)
  std::vector<std::string> stop;
  bool stream = false;
  bool include_usage = false;
  int32_t reasoning_budget = -1;  // -1: none
  bool thinking = true;           // false: the reply starts with the reasoning closed
  bool ignore_eos = false;        // llama.cpp extension: generate up to max_tokens
};

struct ChatParams {
  GenParams gen;
  std::vector<chat::Message> messages;
};

struct CompletionParams {
  GenParams gen;
  std::string prompt;
};

// Parses a JSON text; nullopt with `err` set when it is not a JSON object.
std::optional<json> parse_body(std::string_view body, ApiError& err);

// OpenAI /v1/chat/completions.
std::optional<ApiError> parse_chat_request(const json& body, const Limits& limits, ChatParams& out);
// OpenAI /v1/completions (prompt: a string, or a list holding one string).
std::optional<ApiError> parse_completion_request(const json& body, const Limits& limits,
                                                 CompletionParams& out);
// Ollama /api/chat: messages, stream (default true), options{temperature,
// top_p, top_k, min_p, seed, num_predict, stop}, think.
std::optional<ApiError> parse_ollama_chat(const json& body, const Limits& limits, ChatParams& out);

// "data: <json>\n\n" and the stream terminator.
std::string sse_event(const json& payload);

// A JSON body as text. Bytes that are not UTF-8 (a detokenized lone lead
// byte, a reply cut inside a character) become U+FFFD instead of throwing
// json::type_error, which would turn a valid request into a 500.
std::string json_text(const json& payload);
inline constexpr std::string_view kSseDone = "data: [DONE]\n\n";

// --reasoning-format: where the reasoning goes in responses.
enum class ReasoningFormat { DeepSeek, Reasoning, None };
std::optional<ReasoningFormat> parse_reasoning_format(std::string_view s);
// "reasoning_content" (deepseek), "reasoning" (reasoning); none: raw text.
std::string_view reasoning_field(ReasoningFormat f);

// Constant-time comparison (time depends only on the lengths).
bool constant_time_equal(std::string_view a, std::string_view b);
// Host header check: loopback names, the bound host and `extra`, any port.
bool host_allowed(std::string_view host_header, std::string_view bound_host,
                  const std::vector<std::string>& extra);

}  // namespace frugal::server
