// Request parsing/validation, error shape and SSE framing of the server,
// compared against the OpenAI API reference (platform.openai.com/docs/
// api-reference/chat: field names, types, ranges, error object
// {"error": {"message", "type", "param", "code"}}) and the HTML Living
// Standard's server-sent events framing ("data: ...\n\n").
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "server/api.h"

namespace frugal::server {
namespace {

json base_chat() {
  return json{{"messages", json::array({{{"role", "user"}, {"content", "hi"}}})}};
}

std::optional<ApiError> chat(const json& body, ChatParams* out = nullptr, Limits lim = {}) {
  ChatParams p;
  auto e = parse_chat_request(body, lim, p);
  if (out) *out = p;
  return e;
}

TEST(ServerApi, ValidChatDefaultsAndFields) {
  ChatParams p;
  json b = base_chat();
  b["model"] = "whatever";
  b["temperature"] = 0.2;
  b["top_p"] = 0.5;
  b["top_k"] = 7;
  b["min_p"] = 0.1;
  b["seed"] = 42;
  b["max_tokens"] = 9;
  b["stop"] = json::array({"a", "b", "c", "d", "e"});
  b["presence_penalty"] = 1.5;
  b["frequency_penalty"] = -1.5;
  b["n"] = 1;
  b["stream"] = true;
  b["stream_options"] = {{"include_usage", true}};
  ASSERT_FALSE(chat(b, &p));
  EXPECT_EQ(p.gen.model, "whatever");
  EXPECT_FLOAT_EQ(p.gen.sampling.temperature, 0.2f);
  EXPECT_FLOAT_EQ(p.gen.sampling.top_p, 0.5f);
  EXPECT_EQ(p.gen.sampling.top_k, 7);
  EXPECT_FLOAT_EQ(p.gen.sampling.min_p, 0.1f);
  EXPECT_TRUE(p.gen.has_seed);
  EXPECT_EQ(p.gen.sampling.seed, 42u);
  EXPECT_EQ(p.gen.max_tokens, 9);
  EXPECT_EQ(p.gen.stop.size(), 5u);
  EXPECT_TRUE(p.gen.stream);
  EXPECT_TRUE(p.gen.include_usage);
  ASSERT_EQ(p.messages.size(), 1u);
  EXPECT_EQ(p.messages[0].role, "user");
  EXPECT_EQ(p.messages[0].content, "hi");
}

TEST(ServerApi, EveryNumericFieldRejectsBadValues) {
  const char* fields[] = {"temperature",
                          "top_p",
                          "top_k",
                          "min_p",
                          "seed",
                          "max_tokens",
                          "max_completion_tokens",
                          "presence_penalty",
                          "frequency_penalty",
                          "n",
                          "max_reasoning_tokens"};
  const bool may_be_negative[] = {false, false, false, false, true, false,
                                  false, true,  true,  false, false};
  for (size_t i = 0; i < std::size(fields); ++i) {
    const std::string f = fields[i];
    std::vector<json> bad = {json("1"),
                             json(true),
                             json::array({1}),
                             json::object(),
                             json(1e300),
                             json(std::numeric_limits<double>::infinity()),
                             json(std::numeric_limits<double>::quiet_NaN())};
    if (!may_be_negative[i]) bad.push_back(json(-1));
    if (f != "seed") bad.push_back(json(int64_t{1} << 40));
    for (const json& v : bad) {
      json b = base_chat();
      b[f] = v;
      auto e = chat(b);
      ASSERT_TRUE(e) << f << " = " << v.dump();
      EXPECT_EQ(e->status, 400) << f;
      EXPECT_EQ(e->type, "invalid_request_error");
      EXPECT_EQ(e->param, f);
      EXPECT_NE(e->message.find(f), std::string::npos) << e->message;
    }
  }
}

TEST(ServerApi, NumericBoundsAreInclusive) {
  for (auto [f, v] : std::vector<std::pair<const char*, json>>{{"temperature", 0},
                                                               {"temperature", 2},
                                                               {"top_p", 1},
                                                               {"min_p", 0},
                                                               {"presence_penalty", -2},
                                                               {"frequency_penalty", 2},
                                                               {"max_tokens", 1},
                                                               {"seed", -5}}) {
    json b = base_chat();
    b[f] = v;
    EXPECT_FALSE(chat(b)) << f << " = " << v.dump();
  }
  json b = base_chat();
  b["temperature"] = 2.0001;
  EXPECT_TRUE(chat(b));
}

TEST(ServerApi, NOtherThanOneIsRejectedClearly) {
  json b = base_chat();
  b["n"] = 2;
  auto e = chat(b);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->param, "n");
  EXPECT_NE(e->message.find("must be 1"), std::string::npos);
}

TEST(ServerApi, MaxTokensCapAndAliases) {
  Limits lim;
  lim.max_tokens_cap = 100;
  json b = base_chat();
  b["max_completion_tokens"] = 100;
  ChatParams p;
  ASSERT_FALSE(chat(b, &p, lim));
  EXPECT_EQ(p.gen.max_tokens, 100);
  b["max_completion_tokens"] = 101;
  EXPECT_TRUE(chat(b, nullptr, lim));
}

TEST(ServerApi, MessagesValidation) {
  const std::string secret = "SECRET-MARKER-93481";
  std::vector<json> bad = {
      json{{"messages", json::array()}},
      json{{"messages", "text"}},
      json::object(),
      json{{"messages", json::array({{{"role", secret}, {"content", "x"}}})}},
      json{{"messages", json::array({{{"role", 3}, {"content", "x"}}})}},
      json{{"messages", json::array({{{"role", "user"}, {"content", 3}}})}},
      json{{"messages", json::array({{{"role", "user"},
                                      {"content", json::array({{{"type", "image_url"}}})}}})}},
      json{{"messages", json::array({secret})}},
  };
  for (const json& b : bad) {
    auto e = chat(b);
    ASSERT_TRUE(e) << b.dump();
    EXPECT_EQ(e->status, 400);
    EXPECT_EQ(e->message.find(secret), std::string::npos) << "error echoes user content";
    EXPECT_EQ(error_body(*e).dump().find(secret), std::string::npos);
  }
  Limits lim;
  lim.max_messages = 2;
  json many = {{"messages", json::array({{{"role", "user"}, {"content", "a"}},
                                         {{"role", "assistant"}, {"content", "b"}},
                                         {{"role", "user"}, {"content", "c"}}})}};
  EXPECT_TRUE(chat(many, nullptr, lim));
}

TEST(ServerApi, ContentPartsAndDroppedReasoning) {
  json b = {{"messages",
             json::array({{{"role", "system"}, {"content", "sys"}},
                          {{"role", "user"},
                           {"content", json::array({{{"type", "text"}, {"text", "a"}},
                                                    {{"type", "text"}, {"text", "b"}}})}},
                          {{"role", "assistant"}, {"content", "ans"}, {"reasoning_content", "r"}},
                          {{"role", "assistant"}, {"content", nullptr}}})}};
  ChatParams p;
  ASSERT_FALSE(chat(b, &p));
  ASSERT_EQ(p.messages.size(), 4u);
  EXPECT_EQ(p.messages[1].content, "ab");
  EXPECT_EQ(p.messages[2].content, "ans");  // reasoning_content dropped
  EXPECT_EQ(p.messages[3].content, "");
}

TEST(ServerApi, StopLimits) {
  json b = base_chat();
  b["stop"] = "x";
  ChatParams p;
  ASSERT_FALSE(chat(b, &p));
  EXPECT_EQ(p.gen.stop, std::vector<std::string>{"x"});
  json many = json::array();
  for (int i = 0; i < 17; ++i) many.push_back("s");
  b["stop"] = many;
  EXPECT_TRUE(chat(b));
  b["stop"] = json::array({"ok", 3});
  EXPECT_TRUE(chat(b));
  b["stop"] = "";
  EXPECT_TRUE(chat(b));
  b["stop"] = std::string(300, 'a');
  EXPECT_TRUE(chat(b));
}

TEST(ServerApi, ReasoningControls) {
  ChatParams p;
  json b = base_chat();
  b["reasoning_effort"] = "low";
  ASSERT_FALSE(chat(b, &p));
  EXPECT_EQ(p.gen.reasoning_budget, kEffortLow);
  b["reasoning_effort"] = "high";
  ASSERT_FALSE(chat(b, &p));
  EXPECT_EQ(p.gen.reasoning_budget, kEffortHigh);
  b["reasoning_effort"] = "extreme";
  EXPECT_TRUE(chat(b));
  b.erase("reasoning_effort");
  b["max_reasoning_tokens"] = 0;
  ASSERT_FALSE(chat(b, &p));
  EXPECT_EQ(p.gen.reasoning_budget, 0);
  EXPECT_TRUE(p.gen.thinking);
  b["thinking"] = {{"type", "disabled"}};
  ASSERT_FALSE(chat(b, &p));
  EXPECT_FALSE(p.gen.thinking);
  b.erase("thinking");
  b["chat_template_kwargs"] = {{"enable_thinking", false}};
  ASSERT_FALSE(chat(b, &p));
  EXPECT_FALSE(p.gen.thinking);
  b["chat_template_kwargs"] = {{"enable_thinking", "no"}};
  EXPECT_TRUE(chat(b));
}

TEST(ServerApi, BodyParsing) {
  ApiError e;
  EXPECT_FALSE(parse_body("{not json", e));
  EXPECT_EQ(e.status, 400);
  EXPECT_EQ(e.code, "invalid_json");
  EXPECT_FALSE(parse_body("[1,2]", e));
  EXPECT_FALSE(parse_body("{\"a\": NaN}", e));
  EXPECT_FALSE(parse_body("", e));
  EXPECT_TRUE(parse_body("{\"a\": 1}", e));
}

TEST(ServerApi, ErrorShape) {
  ApiError e = invalid("top_p", "'top_p' must be a number", "invalid_type");
  json j = error_body(e);
  ASSERT_TRUE(j.contains("error"));
  EXPECT_EQ(j["error"]["message"], "'top_p' must be a number");
  EXPECT_EQ(j["error"]["type"], "invalid_request_error");
  EXPECT_EQ(j["error"]["param"], "top_p");
  EXPECT_EQ(j["error"]["code"], "invalid_type");
  ApiError none;
  EXPECT_TRUE(error_body(none)["error"]["param"].is_null());
}

TEST(ServerApi, SseFraming) {
  json j = {{"a", "line1\nline2"}};
  std::string s = sse_event(j);
  EXPECT_EQ(s.rfind("data: ", 0), 0u);
  EXPECT_EQ(s.substr(s.size() - 2), "\n\n");
  // A newline inside a value must not split the event: JSON escapes it.
  EXPECT_EQ(s.find('\n'), s.size() - 2);
  EXPECT_EQ(json::parse(s.substr(6)), j);
  EXPECT_EQ(kSseDone, "data: [DONE]\n\n");
}

TEST(ServerApi, CompletionAndOllamaParsing) {
  CompletionParams c;
  EXPECT_FALSE(parse_completion_request(json{{"prompt", "Once"}, {"max_tokens", 3}}, {}, c));
  EXPECT_EQ(c.prompt, "Once");
  EXPECT_TRUE(parse_completion_request(json{{"prompt", 3}}, {}, c));
  EXPECT_TRUE(parse_completion_request(json::object(), {}, c));

  ChatParams o;
  json b = base_chat();
  b["options"] = {{"num_predict", 5}, {"temperature", 0}, {"seed", 3}};
  ASSERT_FALSE(parse_ollama_chat(b, {}, o));
  EXPECT_TRUE(o.gen.stream);  // Ollama's default
  EXPECT_EQ(o.gen.max_tokens, 5);
  EXPECT_TRUE(o.gen.has_seed);
  b["options"] = {{"temperature", "hot"}};
  EXPECT_TRUE(parse_ollama_chat(b, {}, o));
}

TEST(ServerApi, ReasoningFormatNames) {
  EXPECT_EQ(reasoning_field(*parse_reasoning_format("deepseek")), "reasoning_content");
  EXPECT_EQ(reasoning_field(*parse_reasoning_format("reasoning")), "reasoning");
  EXPECT_TRUE(parse_reasoning_format("none"));
  EXPECT_FALSE(parse_reasoning_format("raw"));
}

TEST(ServerApi, ConstantTimeEqual) {
  EXPECT_TRUE(constant_time_equal("abc", "abc"));
  EXPECT_FALSE(constant_time_equal("abc", "abd"));
  EXPECT_FALSE(constant_time_equal("abc", "abcd"));
  EXPECT_FALSE(constant_time_equal("", "a"));
  EXPECT_TRUE(constant_time_equal("", ""));
}

TEST(ServerApi, HostCheck) {
  EXPECT_TRUE(host_allowed("localhost:8080", "127.0.0.1", {}));
  EXPECT_TRUE(host_allowed("127.0.0.1:1", "127.0.0.1", {}));
  EXPECT_TRUE(host_allowed("[::1]:8080", "127.0.0.1", {}));
  EXPECT_TRUE(host_allowed("LOCALHOST", "127.0.0.1", {}));
  EXPECT_FALSE(host_allowed("evil.example:8080", "127.0.0.1", {}));
  EXPECT_FALSE(host_allowed("", "127.0.0.1", {}));
  EXPECT_TRUE(host_allowed("10.0.0.5:80", "10.0.0.5", {}));
  EXPECT_FALSE(host_allowed("10.0.0.6:80", "0.0.0.0", {}));
  EXPECT_TRUE(host_allowed("box.lan:80", "0.0.0.0", {"box.lan"}));
}

}  // namespace
}  // namespace frugal::server
