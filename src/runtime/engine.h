// runtime::Engine: the one inference path (DESIGN §2). It owns the mapped
// model file, the weights, the tokenizer, the chat template and the thread
// pool. A Session is one conversation's KV cache and token history; it reuses
// the longest common prefix of consecutive prompts, so a multi-turn chat only
// prefills what is new.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "chat/chat_template.h"
#include "common/result.h"
#include "common/thread_pool.h"
#include "gguf/gguf_file.h"
#include "model/model.h"
#include "runtime/sampling.h"
#include "tokenizer/tokenizer.h"

namespace frugal::runtime {

struct EngineOptions {
  std::string model_path;
  // A GGUF image in memory, used instead of model_path when set: training
  // hands the weights it is updating to the engine for rollouts without a
  // file. The engine keeps the image alive.
  std::shared_ptr<const std::vector<uint8_t>> model_image;
  int n_threads = 0;          // 0: one per hardware thread
  int64_t n_ctx = 0;          // 0: min(model's training context, 8192)
  std::string chat_template;  // "": from the model's metadata; else a kind name
  // Element type of every session's KV cache. F32 by default here: the
  // arithmetic the parity tests hold to llama.cpp's with an F32 cache. The
  // CLI defaults to F16: half the memory, and faster decode at depth on AVX2
  // since the lane-by-lane P.V kernel (bench/RESULTS.md).
  model::KvType kv_type = model::KvType::kF32;
  // Page the weights in during load (gguf::File::prefault), calling this with
  // (bytes done, bytes total) as it goes. Unset: pages come in on first use.
  std::function<void(uint64_t, uint64_t)> prefault_progress;
};

struct GenerateRequest {
  std::vector<int32_t> prompt;  // token ids, BOS included if the model wants it
  SamplingParams sampling;
  int32_t max_tokens = -1;  // -1: until the context is full
  std::vector<std::string> stop;
};

enum class FinishReason { Stop, Length, Cancelled };
std::string_view finish_reason_name(FinishReason r);

struct GenerationStats {
  int64_t n_prompt = 0;         // prompt tokens
  int64_t n_prompt_reused = 0;  // of which taken from the session's cache
  int64_t n_generated = 0;
  double prefill_s = 0;  // time to process the new prompt tokens
  double decode_s = 0;   // time from first to last generated token
  double ttft_s = 0;     // request start to first generated token
  double prefill_tps() const {
    return prefill_s > 0 ? (n_prompt - n_prompt_reused) / prefill_s : 0;
  }
  double decode_tps() const { return decode_s > 0 ? (n_generated - 1) / decode_s : 0; }
};

struct GenerationResult {
  std::vector<int32_t> tokens;  // generated ids (end-of-generation token excluded)
  int32_t end_token = -1;       // the end-of-generation id that ended it; -1 if none did
  std::string text;             // their text, cut at a stop string
  FinishReason finish = FinishReason::Stop;
  GenerationStats stats;
};

// Receives text deltas (whole UTF-8 characters); returning false cancels.
using TextCallback = std::function<bool(std::string_view)>;

class Engine;

class Session {
 public:
  explicit Session(const Engine& engine);
  Result<GenerationResult> generate(const GenerateRequest& req, const TextCallback& on_text);
  void reset();
  int64_t n_past() const { return cache_.n_past; }

 private:
  const Engine& engine_;
  model::KvCache cache_;
  std::vector<int32_t> history_;  // tokens whose K/V are in cache_, in order
  std::vector<float> logits_;     // [V]
};

class Engine {
 public:
  static Result<std::unique_ptr<Engine>> load(const EngineOptions& opt);

  const gguf::File& file() const { return *file_; }
  const model::Model& model() const { return *model_; }
  const tokenizer::Tokenizer& tokenizer() const { return *tokenizer_; }
  const chat::Template& chat_template() const { return *template_; }
  ThreadPool& pool() const { return *pool_; }
  int64_t n_ctx() const { return n_ctx_; }
  model::KvType kv_type() const { return kv_type_; }
  double load_seconds() const { return load_s_; }

  // Prompt tokens for a conversation: template, special tokens parsed, BOS
  // added once if the model asks for it.
  Result<std::vector<int32_t>> chat_prompt(std::span<const chat::Message> messages) const;
  // Prompt tokens for raw text completion (BOS if the model asks for it).
  std::vector<int32_t> text_prompt(std::string_view text) const;

 private:
  Engine() = default;
  std::shared_ptr<const std::vector<uint8_t>> image_;  // declared before file_: outlives it
  std::unique_ptr<gguf::File> file_;
  std::unique_ptr<model::Model> model_;
  std::unique_ptr<tokenizer::Tokenizer> tokenizer_;
  std::optional<chat::Template> template_;
  std::unique_ptr<ThreadPool> pool_;
  int64_t n_ctx_ = 0;
  model::KvType kv_type_ = model::KvType::kF32;
  double load_s_ = 0;
};

}  // namespace frugal::runtime
