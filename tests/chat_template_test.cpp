// Compared against: Python jinja2 (in Hugging Face transformers' environment,
// cross-checked with transformers.render_jinja_template) rendering the models'
// real chat templates — tests/data/chat/golden.json, made by
// tools/gen_chat_golden.py. Our renderers must match byte for byte. Family
// detection is checked on every real template file we have; the model-file
// checks read templates from real GGUF files when FRUGAL_MODEL_CACHE is set.
#include "chat/chat_template.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "gguf/gguf_file.h"

namespace frugal::chat {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  EXPECT_TRUE(f.good()) << "cannot open " << path;
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// golden.json names templates as "shared:<path>" or "data:<path>".
std::string template_path(const std::string& ref) {
  if (ref.rfind("shared:", 0) == 0)
    return std::string(FRUGAL_SHARED_TESTDATA) + "/" + ref.substr(7);
  if (ref.rfind("data:", 0) == 0) return std::string(FRUGAL_TEST_DATA) + "/" + ref.substr(5);
  ADD_FAILURE() << "bad template reference " << ref;
  return {};
}

const std::string kShared = std::string(FRUGAL_SHARED_TESTDATA) + "/templates/";
const std::string kData = std::string(FRUGAL_TEST_DATA) + "/chat/";

TEST(ChatTemplateGolden, MatchesJinjaByteForByte) {
  const auto golden = nlohmann::json::parse(read_file(kData + "golden.json"));
  const auto& cases = golden.at("cases");
  ASSERT_GE(cases.size(), 200u);
  std::map<std::string, std::string> sources;
  std::map<std::string, int> per_template;
  for (const auto& c : cases) {
    const std::string ref = c.at("template");
    if (!sources.count(ref)) sources[ref] = read_file(template_path(ref));
    auto tmpl = template_from_model(sources[ref], c.at("bos_token"), c.at("eos_token"));
    ASSERT_TRUE(tmpl.ok()) << ref << ": " << tmpl.error().message;
    // Jinja treats an enable_thinking that was not passed as false.
    const auto& et = c.at("enable_thinking");
    tmpl->set_enable_thinking(et.is_boolean() && et.get<bool>());
    std::vector<Message> messages;
    for (const auto& m : c.at("messages")) messages.push_back({m.at("role"), m.at("content")});
    const bool agp = c.at("add_generation_prompt");
    auto out = tmpl->render(messages, agp);
    ASSERT_TRUE(out.ok()) << out.error().message;
    EXPECT_EQ(*out, c.at("expected").get<std::string>())
        << ref << " case=" << c.at("name").get<std::string>() << " agp=" << agp
        << " enable_thinking=" << et.dump();
    ++per_template[ref];
  }
  EXPECT_EQ(per_template.size(), 6u);
}

TEST(ChatTemplateDetect, EveryTemplateFile) {
  struct Expect {
    std::string path;
    std::optional<TemplateKind> kind;
  };
  const std::vector<Expect> files = {
      {kShared + "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja", TemplateKind::DeepSeekR1},
      {kShared + "deepseek-ai-DeepSeek-R1-Distill-Llama-8B.jinja", TemplateKind::DeepSeekR1},
      {kShared + "Qwen-Qwen2.5-7B-Instruct.jinja", TemplateKind::ChatML},
      {kData + "Qwen2.5-Coder-0.5B-Instruct.jinja", TemplateKind::ChatML},
      {kData + "SmolLM2-135M-Instruct.jinja", TemplateKind::ChatML},
      {kShared + "meta-llama-Llama-3.1-8B-Instruct.jinja", TemplateKind::Llama3},
      // Related families with a different format: not silently rendered as ours.
      {kShared + "Qwen-QwQ-32B.jinja", std::nullopt},
      {kShared + "deepseek-ai-DeepSeek-V3.1.jinja", std::nullopt},
  };
  for (const auto& f : files) {
    EXPECT_EQ(detect_template_kind(read_file(f.path)), f.kind) << f.path;
  }
  EXPECT_EQ(detect_template_kind(""), std::nullopt);
  EXPECT_EQ(detect_template_kind("{{ messages }}"), std::nullopt);
}

TEST(ChatTemplateDetect, ModelDetailsFromSource) {
  auto qwen = template_from_model(read_file(kShared + "Qwen-Qwen2.5-7B-Instruct.jinja"), "", "");
  ASSERT_TRUE(qwen.ok());
  EXPECT_EQ(qwen->options().default_system,
            "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.");
  EXPECT_FALSE(qwen->prompt_opens_reasoning());

  auto smol = template_from_model(read_file(kData + "SmolLM2-135M-Instruct.jinja"), "", "");
  ASSERT_TRUE(smol.ok());
  EXPECT_EQ(smol->options().default_system,
            "You are a helpful AI assistant named SmolLM, trained by Hugging Face");

  auto llama = template_from_model(read_file(kShared + "meta-llama-Llama-3.1-8B-Instruct.jinja"),
                                   "<|begin_of_text|>", "<|eot_id|>");
  ASSERT_TRUE(llama.ok());
  EXPECT_EQ(llama->options().date_string, "26 Jul 2024");

  // The Qwen-32B distill template has an enable_thinking switch, the Llama-8B one not.
  auto r1q = template_from_model(
      read_file(kShared + "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja"), "", "");
  auto r1l = template_from_model(
      read_file(kShared + "deepseek-ai-DeepSeek-R1-Distill-Llama-8B.jinja"), "", "");
  ASSERT_TRUE(r1q.ok() && r1l.ok());
  EXPECT_TRUE(r1q->options().thinking_switch);
  EXPECT_FALSE(r1l->options().thinking_switch);
  EXPECT_TRUE(r1q->prompt_opens_reasoning());
  EXPECT_TRUE(r1l->prompt_opens_reasoning());
  r1q->set_enable_thinking(false);
  r1l->set_enable_thinking(false);
  EXPECT_FALSE(r1q->prompt_opens_reasoning());
  EXPECT_TRUE(r1l->prompt_opens_reasoning());
}

TEST(ChatTemplateKind, ParseAndName) {
  for (TemplateKind k : {TemplateKind::DeepSeekR1, TemplateKind::ChatML, TemplateKind::Llama3}) {
    EXPECT_EQ(parse_template_kind(template_kind_name(k)), k);
  }
  EXPECT_EQ(parse_template_kind("r1"), TemplateKind::DeepSeekR1);
  EXPECT_EQ(parse_template_kind("llama-3"), TemplateKind::Llama3);
  EXPECT_EQ(parse_template_kind(""), std::nullopt);
  EXPECT_EQ(parse_template_kind("mistral"), std::nullopt);
  EXPECT_EQ(parse_template_kind("ChatML "), std::nullopt);
}

TEST(ChatTemplateKind, ForcedKindOverridesDetection) {
  // QwQ is not detected, but a user may force ChatML on it; its default
  // system prompt is empty, so none is added.
  auto t =
      template_from_model(read_file(kShared + "Qwen-QwQ-32B.jinja"), "", "", TemplateKind::ChatML);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->kind(), TemplateKind::ChatML);
  const std::vector<Message> msgs = {{"user", "hi"}};
  auto out = t->render(msgs, true);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(*out, "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");

  // Forcing works without any template source, and beats a detected family.
  auto r1 = template_from_model("", "<s>", "</s>", TemplateKind::DeepSeekR1);
  ASSERT_TRUE(r1.ok());
  EXPECT_EQ(r1->kind(), TemplateKind::DeepSeekR1);
  auto forced = template_from_model(read_file(kShared + "Qwen-Qwen2.5-7B-Instruct.jinja"), "", "",
                                    TemplateKind::Llama3);
  ASSERT_TRUE(forced.ok());
  EXPECT_EQ(forced->kind(), TemplateKind::Llama3);
}

TEST(ChatTemplateErrors, UnknownOrMissingSource) {
  auto missing = template_from_model("", "", "");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("--chat-template"), std::string::npos);
  const std::string secret = "{{ SECRET_TEMPLATE_TEXT }}";
  auto unknown = template_from_model(secret, "", "");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message.find("--chat-template"), std::string::npos);
  EXPECT_NE(unknown.error().message.find("tokenizer.chat_template"), std::string::npos);
  EXPECT_EQ(unknown.error().message.find("SECRET"), std::string::npos);
}

TEST(ChatTemplateErrors, InvalidConversations) {
  for (TemplateKind k : {TemplateKind::DeepSeekR1, TemplateKind::ChatML, TemplateKind::Llama3}) {
    Template t(k, TemplateOptions{});
    auto empty = t.render({}, true);
    ASSERT_FALSE(empty.ok());
    EXPECT_NE(empty.error().message.find("messages"), std::string::npos);

    const std::vector<Message> tool = {{"user", "q"}, {"tool", "result"}};
    auto bad = t.render(tool, true);
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.error().message.find("messages[1].role"), std::string::npos);
    EXPECT_NE(bad.error().message.find("'tool'"), std::string::npos);

    // A role that looks like user text is not echoed back.
    const std::vector<Message> odd = {{"My password is hunter2", "q"}};
    auto hidden = t.render(odd, false);
    ASSERT_FALSE(hidden.ok());
    EXPECT_EQ(hidden.error().message.find("hunter2"), std::string::npos);
    EXPECT_NE(hidden.error().message.find("messages[0].role"), std::string::npos);

    const std::vector<Message> empty_role = {{"", "q"}};
    EXPECT_FALSE(t.render(empty_role, false).ok());
    const std::vector<Message> upper = {{"User", "q"}};
    EXPECT_FALSE(t.render(upper, false).ok());
  }
}

// Real GGUF files: the template stored in the model is detected and yields the
// model's own details.
std::optional<std::string> model_path(const char* file) {
  const char* dir = std::getenv("FRUGAL_MODEL_CACHE");
  if (!dir) return std::nullopt;
  std::string p = std::string(dir) + "/" + file;
  if (!std::filesystem::exists(p)) return std::nullopt;
  return p;
}

TEST(ChatTemplateModels, SmolLM2FromGguf) {
  auto path = model_path("SmolLM2-135M-Instruct.Q4_1.gguf");
  if (!path) GTEST_SKIP() << "FRUGAL_MODEL_CACHE/SmolLM2-135M-Instruct.Q4_1.gguf not present";
  auto file = gguf::File::open(*path);
  ASSERT_TRUE(file.ok()) << file.error().message;
  auto src = (*file)->get_string("tokenizer.chat_template");
  ASSERT_TRUE(src.has_value());
  EXPECT_EQ(*src, read_file(kData + "SmolLM2-135M-Instruct.jinja"));
  auto t = template_from_model(*src, "<|im_start|>", "<|im_end|>");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->kind(), TemplateKind::ChatML);
  EXPECT_EQ(t->options().default_system,
            "You are a helpful AI assistant named SmolLM, trained by Hugging Face");
}

TEST(ChatTemplateModels, QwenCoderFromGguf) {
  auto path = model_path("qwen2.5-coder-0.5b-instruct-q4_k_m.gguf");
  if (!path)
    GTEST_SKIP() << "FRUGAL_MODEL_CACHE/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf not present";
  auto file = gguf::File::open(*path);
  ASSERT_TRUE(file.ok()) << file.error().message;
  auto src = (*file)->get_string("tokenizer.chat_template");
  ASSERT_TRUE(src.has_value());
  auto t = template_from_model(*src, "<|endoftext|>", "<|im_end|>");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->kind(), TemplateKind::ChatML);
  EXPECT_EQ(t->options().default_system,
            "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.");
}

}  // namespace
}  // namespace frugal::chat
