#include "server/api.h"

#include <cmath>
#include <limits>

namespace frugal::server {

json error_body(const ApiError& e) {
  json err = {{"message", e.message}, {"type", e.type}};
  err["param"] = e.param.empty() ? json(nullptr) : json(e.param);
  err["code"] = e.code.empty() ? json(nullptr) : json(e.code);
  return json{{"error", err}};
}

ApiError invalid(std::string param, std::string message, std::string code) {
  ApiError e;
  e.param = std::move(param);
  e.message = std::move(message);
  e.code = std::move(code);
  return e;
}

std::optional<json> parse_body(std::string_view body, ApiError& err) {
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    err = invalid("", "the request body is not valid JSON", "invalid_json");
    return std::nullopt;
  }
  if (!j.is_object()) {
    err = invalid("", "the request body must be a JSON object", "invalid_json");
    return std::nullopt;
  }
  return j;
}

namespace {

// A present, non-null field; absent and null both mean "use the default".
const json* field(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

std::optional<ApiError> get_float(const json& obj, const char* key, double lo, double hi,
                                  float& out) {
  const json* v = field(obj, key);
  if (!v) return std::nullopt;
  if (!v->is_number())
    return invalid(key, fmt::format("'{}' must be a number", key), "invalid_type");
  const double d = v->get<double>();
  if (!std::isfinite(d) || d < lo || d > hi)
    return invalid(key, fmt::format("'{}' must be a finite number in [{}, {}]", key, lo, hi));
  out = static_cast<float>(d);
  return std::nullopt;
}

std::optional<ApiError> get_int(const json& obj, const char* key, int64_t lo, int64_t hi,
                                int64_t& out, bool& present) {
  present = false;
  const json* v = field(obj, key);
  if (!v) return std::nullopt;
  if (!v->is_number_integer())
    return invalid(key, fmt::format("'{}' must be an integer", key), "invalid_type");
  if (v->is_number_unsigned()) {
    const uint64_t u = v->get<uint64_t>();
    if (u > static_cast<uint64_t>(hi))
      return invalid(key, fmt::format("'{}' must be an integer in [{}, {}]", key, lo, hi));
    out = static_cast<int64_t>(u);
  } else {
    out = v->get<int64_t>();
  }
  if (out < lo || out > hi)
    return invalid(key, fmt::format("'{}' must be an integer in [{}, {}]", key, lo, hi));
  present = true;
  return std::nullopt;
}

std::optional<ApiError> get_bool(const json& obj, const char* key, bool& out) {
  const json* v = field(obj, key);
  if (!v) return std::nullopt;
  if (!v->is_boolean())
    return invalid(key, fmt::format("'{}' must be a boolean", key), "invalid_type");
  out = v->get<bool>();
  return std::nullopt;
}

std::optional<ApiError> get_stop(const json& obj, const char* key, const Limits& lim,
                                 std::vector<std::string>& out) {
  const json* v = field(obj, key);
  if (!v) return std::nullopt;
  std::vector<const json*> items;
  if (v->is_string()) {
    items.push_back(v);
  } else if (v->is_array()) {
    if (v->size() > lim.max_stop)
      return invalid(key, fmt::format("'{}' holds at most {} strings", key, lim.max_stop));
    for (const auto& s : *v) items.push_back(&s);
  } else {
    return invalid(key, fmt::format("'{}' must be a string or a list of strings", key),
                   "invalid_type");
  }
  for (const json* s : items) {
    if (!s->is_string())
      return invalid(key, fmt::format("'{}' must be a string or a list of strings", key),
                     "invalid_type");
    const auto& str = s->get_ref<const std::string&>();
    if (str.empty()) return invalid(key, fmt::format("'{}' strings must not be empty", key));
    if (str.size() > lim.max_stop_bytes)
      return invalid(key,
                     fmt::format("'{}' strings are at most {} bytes", key, lim.max_stop_bytes));
    out.push_back(str);
  }
  return std::nullopt;
}

#define FRUGAL_API_TRY(expr)         \
  do {                               \
    if (auto e_ = (expr)) return e_; \
  } while (0)

std::optional<ApiError> get_max_tokens(const json& obj, const char* key, const Limits& lim,
                                       int32_t& out) {
  int64_t v = 0;
  bool present = false;
  const int64_t hi = lim.max_tokens_cap > 0 ? lim.max_tokens_cap : int64_t{1} << 30;
  FRUGAL_API_TRY(get_int(obj, key, 1, hi, v, present));
  if (present) out = static_cast<int32_t>(v);
  return std::nullopt;
}

// Sampling, limits and reasoning fields shared by the OpenAI endpoints.
std::optional<ApiError> parse_gen(const json& b, const Limits& lim, GenParams& g) {
  if (const json* m = field(b, "model")) {
    if (!m->is_string()) return invalid("model", "'model' must be a string", "invalid_type");
  }
  auto& s = g.sampling;
  FRUGAL_API_TRY(get_float(b, "temperature", 0, 2, s.temperature));
  FRUGAL_API_TRY(get_float(b, "top_p", 0, 1, s.top_p));
  if (s.top_p == 0) s.top_p = 1e-6f;  // OpenAI allows 0: keep only the top token
  FRUGAL_API_TRY(get_float(b, "min_p", 0, 1, s.min_p));
  FRUGAL_API_TRY(get_float(b, "presence_penalty", -2, 2, s.presence_penalty));
  FRUGAL_API_TRY(get_float(b, "frequency_penalty", -2, 2, s.frequency_penalty));
  FRUGAL_API_TRY(get_float(b, "repetition_penalty", 0.01, 10, s.repetition_penalty));
  int64_t v = 0;
  bool present = false;
  FRUGAL_API_TRY(get_int(b, "top_k", 0, 1 << 20, v, present));
  if (present) s.top_k = static_cast<int32_t>(v);
  FRUGAL_API_TRY(get_int(b, "seed", std::numeric_limits<int64_t>::min(),
                         std::numeric_limits<int64_t>::max(), v, present));
  if (present) s.seed = static_cast<uint64_t>(v), g.has_seed = true;
  FRUGAL_API_TRY(get_int(b, "n", 1, 1 << 20, v, present));
  if (present && v != 1) return invalid("n", "'n' must be 1: one choice per request is supported");

  FRUGAL_API_TRY(get_max_tokens(b, "max_tokens", lim, g.max_tokens));
  FRUGAL_API_TRY(get_max_tokens(b, "max_completion_tokens", lim, g.max_tokens));
  FRUGAL_API_TRY(get_stop(b, "stop", lim, g.stop));
  FRUGAL_API_TRY(get_bool(b, "stream", g.stream));
  FRUGAL_API_TRY(get_bool(b, "ignore_eos", g.ignore_eos));
  if (const json* so = field(b, "stream_options")) {
    if (!so->is_object())
      return invalid("stream_options", "'stream_options' must be an object", "invalid_type");
    FRUGAL_API_TRY(get_bool(*so, "include_usage", g.include_usage));
  }

  if (const json* e = field(b, "reasoning_effort")) {
    if (!e->is_string())
      return invalid("reasoning_effort", "'reasoning_effort' must be a string", "invalid_type");
    const auto& str = e->get_ref<const std::string&>();
    if (str == "low")
      g.reasoning_budget = kEffortLow;
    else if (str == "medium")
      g.reasoning_budget = kEffortMedium;
    else if (str == "high")
      g.reasoning_budget = kEffortHigh;
    else
      return invalid("reasoning_effort", "'reasoning_effort' must be low, medium or high");
  }
  FRUGAL_API_TRY(get_int(b, "max_reasoning_tokens", 0, int64_t{1} << 30, v, present));
  if (present) g.reasoning_budget = static_cast<int32_t>(v);

  if (const json* t = field(b, "thinking")) {
    if (!t->is_object()) return invalid("thinking", "'thinking' must be an object", "invalid_type");
    if (const json* type = field(*t, "type")) {
      if (!type->is_string() || (type->get_ref<const std::string&>() != "enabled" &&
                                 type->get_ref<const std::string&>() != "disabled"))
        return invalid("thinking", "'thinking.type' must be \"enabled\" or \"disabled\"");
      g.thinking = type->get_ref<const std::string&>() == "enabled";
    }
  }
  if (const json* k = field(b, "chat_template_kwargs")) {
    if (!k->is_object())
      return invalid("chat_template_kwargs", "'chat_template_kwargs' must be an object",
                     "invalid_type");
    FRUGAL_API_TRY(get_bool(*k, "enable_thinking", g.thinking));
  }
  return std::nullopt;
}

// Message content: a string, null (assistant), or a list of text parts.
std::optional<ApiError> get_content(const json& m, size_t idx, std::string& out) {
  const std::string param = fmt::format("messages[{}].content", idx);
  auto it = m.find("content");
  if (it == m.end() || it->is_null()) return std::nullopt;
  if (it->is_string()) {
    out = it->get<std::string>();
    return std::nullopt;
  }
  if (!it->is_array())
    return invalid(param, fmt::format("'{}' must be a string or a list of text parts", param),
                   "invalid_type");
  for (const auto& part : *it) {
    if (!part.is_object())
      return invalid(param, fmt::format("'{}' parts must be objects", param), "invalid_type");
    auto type = part.find("type");
    auto text = part.find("text");
    if (type == part.end() || !type->is_string() || *type != "text")
      return invalid(param, fmt::format("'{}': only parts of type \"text\" are supported", param));
    if (text == part.end() || !text->is_string())
      return invalid(param, fmt::format("'{}': a text part needs a string 'text'", param),
                     "invalid_type");
    out += text->get<std::string>();
  }
  return std::nullopt;
}

std::optional<ApiError> parse_messages(const json& b, const Limits& lim,
                                       std::vector<chat::Message>& out) {
  const json* msgs = field(b, "messages");
  if (!msgs) return invalid("messages", "'messages' is required", "missing_field");
  if (!msgs->is_array()) return invalid("messages", "'messages' must be a list", "invalid_type");
  if (msgs->empty()) return invalid("messages", "'messages' must not be empty");
  if (msgs->size() > lim.max_messages)
    return invalid("messages",
                   fmt::format("'messages' holds at most {} messages", lim.max_messages));
  for (size_t i = 0; i < msgs->size(); ++i) {
    const json& m = (*msgs)[i];
    const std::string param = fmt::format("messages[{}]", i);
    if (!m.is_object())
      return invalid(param, fmt::format("'{}' must be an object", param), "invalid_type");
    auto role = m.find("role");
    if (role == m.end() || !role->is_string())
      return invalid(param + ".role", fmt::format("'{}.role' must be a string", param),
                     "invalid_type");
    std::string r = role->get<std::string>();
    if (r == "developer") r = "system";  // OpenAI's newer name for the system role
    if (r != "system" && r != "user" && r != "assistant")
      return invalid(param + ".role",
                     fmt::format("'{}.role' must be one of system, user, assistant", param));
    chat::Message msg;
    msg.role = r;
    FRUGAL_API_TRY(get_content(m, i, msg.content));
    // reasoning_content on assistant turns is accepted and dropped (DeepSeek's rule).
    out.push_back(std::move(msg));
  }
  return std::nullopt;
}

// Log-probabilities are not computed: asking for them is an error, not a
// reply that silently lacks them. The ranges are OpenAI's (chat: a bool plus
// top_logprobs 0..20; text completions: an integer 0..5), so a value outside
// them is invalid whatever the vocabulary.
std::optional<ApiError> check_logprobs(const json& b, bool chat) {
  int64_t v = 0;
  bool present = false;
  if (chat) {
    bool want = false;
    FRUGAL_API_TRY(get_bool(b, "logprobs", want));
    if (want)
      return invalid("logprobs", "'logprobs' is not supported by this server", "unsupported_value");
    FRUGAL_API_TRY(get_int(b, "top_logprobs", 0, 20, v, present));
    if (present && v > 0)
      return invalid("top_logprobs", "'top_logprobs' needs 'logprobs', which is not supported",
                     "unsupported_value");
    return std::nullopt;
  }
  FRUGAL_API_TRY(get_int(b, "logprobs", 0, 5, v, present));
  if (present && v > 0)
    return invalid("logprobs", "'logprobs' is not supported by this server", "unsupported_value");
  return std::nullopt;
}

}  // namespace

std::optional<ApiError> parse_chat_request(const json& body, const Limits& limits,
                                           ChatParams& out) {
  FRUGAL_API_TRY(parse_messages(body, limits, out.messages));
  FRUGAL_API_TRY(parse_gen(body, limits, out.gen));
  FRUGAL_API_TRY(check_logprobs(body, /*chat=*/true));
  if (const json* m = field(body, "model")) out.gen.model = m->get<std::string>();
  return std::nullopt;
}

std::optional<ApiError> parse_completion_request(const json& body, const Limits& limits,
                                                 CompletionParams& out) {
  const json* p = field(body, "prompt");
  if (!p) return invalid("prompt", "'prompt' is required", "missing_field");
  if (p->is_array() && p->size() == 1 && (*p)[0].is_string()) p = &(*p)[0];
  if (!p->is_string()) return invalid("prompt", "'prompt' must be a string", "invalid_type");
  out.prompt = p->get<std::string>();
  if (out.prompt.empty()) return invalid("prompt", "'prompt' must not be empty");
  FRUGAL_API_TRY(parse_gen(body, limits, out.gen));
  FRUGAL_API_TRY(check_logprobs(body, /*chat=*/false));
  if (const json* m = field(body, "model")) out.gen.model = m->get<std::string>();
  return std::nullopt;
}

std::optional<ApiError> parse_ollama_chat(const json& body, const Limits& limits, ChatParams& out) {
  FRUGAL_API_TRY(parse_messages(body, limits, out.messages));
  if (const json* m = field(body, "model")) {
    if (!m->is_string()) return invalid("model", "'model' must be a string", "invalid_type");
    out.gen.model = m->get<std::string>();
  }
  out.gen.stream = true;  // Ollama streams unless told not to
  FRUGAL_API_TRY(get_bool(body, "stream", out.gen.stream));
  FRUGAL_API_TRY(get_bool(body, "think", out.gen.thinking));
  if (const json* o = field(body, "options")) {
    if (!o->is_object()) return invalid("options", "'options' must be an object", "invalid_type");
    auto& s = out.gen.sampling;
    FRUGAL_API_TRY(get_float(*o, "temperature", 0, 2, s.temperature));
    FRUGAL_API_TRY(get_float(*o, "top_p", 0, 1, s.top_p));
    if (s.top_p == 0) s.top_p = 1e-6f;
    FRUGAL_API_TRY(get_float(*o, "min_p", 0, 1, s.min_p));
    FRUGAL_API_TRY(get_float(*o, "presence_penalty", -2, 2, s.presence_penalty));
    FRUGAL_API_TRY(get_float(*o, "frequency_penalty", -2, 2, s.frequency_penalty));
    FRUGAL_API_TRY(get_float(*o, "repeat_penalty", 0.01, 10, s.repetition_penalty));
    int64_t v = 0;
    bool present = false;
    FRUGAL_API_TRY(get_int(*o, "top_k", 0, 1 << 20, v, present));
    if (present) s.top_k = static_cast<int32_t>(v);
    FRUGAL_API_TRY(get_int(*o, "seed", std::numeric_limits<int64_t>::min(),
                           std::numeric_limits<int64_t>::max(), v, present));
    if (present) s.seed = static_cast<uint64_t>(v), out.gen.has_seed = true;
    // Ollama's num_predict: -1 means "no limit"; we map it to "not given".
    FRUGAL_API_TRY(get_int(*o, "num_predict", -1,
                           limits.max_tokens_cap > 0 ? limits.max_tokens_cap : int64_t{1} << 30, v,
                           present));
    if (present && v > 0) out.gen.max_tokens = static_cast<int32_t>(v);
    if (present && v == 0) return invalid("options.num_predict", "'num_predict' must not be 0");
    FRUGAL_API_TRY(get_stop(*o, "stop", limits, out.gen.stop));
  }
  return std::nullopt;
}

std::string sse_event(const json& payload) {
  // Invalid UTF-8 becomes U+FFFD instead of a json::type_error: this runs in
  // httplib's chunk callback, where an exception would end the process (found
  // by fuzz/fuzz_sse.cpp).
  return "data: " + json_text(payload) + "\n\n";
}

std::string json_text(const json& payload) {
  return payload.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::optional<ReasoningFormat> parse_reasoning_format(std::string_view s) {
  if (s == "deepseek") return ReasoningFormat::DeepSeek;
  if (s == "reasoning") return ReasoningFormat::Reasoning;
  if (s == "none") return ReasoningFormat::None;
  return std::nullopt;
}

std::string_view reasoning_field(ReasoningFormat f) {
  return f == ReasoningFormat::Reasoning ? "reasoning" : "reasoning_content";
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  // Compare over the longer length so the time does not reveal the first
  // differing byte; a length mismatch still fails.
  const size_t n = std::max(a.size(), b.size());
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned char>(x ^ y);
  }
  return diff == 0;
}

bool host_allowed(std::string_view host_header, std::string_view bound_host,
                  const std::vector<std::string>& extra) {
  // Strip the port: "[::1]:8080" → "[::1]", "localhost:8080" → "localhost".
  std::string_view h = host_header;
  if (!h.empty() && h.front() == '[') {
    const size_t close = h.find(']');
    if (close == std::string_view::npos) return false;
    h = h.substr(0, close + 1);
  } else if (const size_t colon = h.rfind(':'); colon != std::string_view::npos) {
    h = h.substr(0, colon);
  }
  std::string lower(h);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "localhost" || lower == "127.0.0.1" || lower == "[::1]") return true;
  if (!bound_host.empty() && bound_host != "0.0.0.0" && bound_host != "::" &&
      (lower == bound_host || lower == "[" + std::string(bound_host) + "]"))
    return true;
  for (const auto& e : extra)
    if (lower == e) return true;
  return false;
}

}  // namespace frugal::server
