#include "runtime/engine.h"

#include <algorithm>
#include <thread>

#include "runtime/stop_strings.h"

namespace frugal::runtime {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Prefill in chunks so scratch memory stays bounded for long prompts.
constexpr int64_t kPrefillChunk = 512;

}  // namespace

std::string_view finish_reason_name(FinishReason r) {
  switch (r) {
    case FinishReason::Stop:
      return "stop";
    case FinishReason::Length:
      return "length";
    case FinishReason::Cancelled:
      return "cancelled";
  }
  return "unknown";
}

Result<std::unique_ptr<Engine>> Engine::load(const EngineOptions& opt) {
  const auto t0 = Clock::now();
  std::unique_ptr<Engine> e(new Engine());
  if (opt.model_image) {
    e->image_ = opt.model_image;
    FRUGAL_ASSIGN_OR_RETURN(e->file_, gguf::File::from_memory(*e->image_));
  } else {
    FRUGAL_ASSIGN_OR_RETURN(e->file_, gguf::File::open(opt.model_path));
  }
  FRUGAL_ASSIGN_OR_RETURN(e->tokenizer_, tokenizer::Tokenizer::from_gguf(*e->file_));
  FRUGAL_ASSIGN_OR_RETURN(e->model_, model::load_model(*e->file_));

  const auto& hp = e->model_->hparams();
  if (e->tokenizer_->n_vocab() > hp.n_vocab)
    return make_error("tokenizer has {} tokens but the model's output has only {} rows",
                      e->tokenizer_->n_vocab(), hp.n_vocab);

  if (opt.n_ctx < 0) return make_error("context size must be >= 0, got {}", opt.n_ctx);
  int64_t n_ctx = opt.n_ctx;
  if (n_ctx == 0) n_ctx = hp.n_ctx_train > 0 ? std::min<int64_t>(hp.n_ctx_train, 8192) : 4096;
  if (n_ctx < 8) return make_error("context size {} is too small (minimum 8)", n_ctx);
  if (n_ctx > (int64_t{1} << 22)) return make_error("context size {} is too large", n_ctx);
  e->n_ctx_ = n_ctx;
  e->kv_type_ = opt.kv_type;

  const auto& v = e->tokenizer_->vocab();
  auto token_text = [&](int32_t id) -> std::string {
    return std::string(e->tokenizer_->token_text(id));
  };
  if (!opt.chat_template.empty()) {
    auto kind = chat::parse_template_kind(opt.chat_template);
    if (!kind)
      return make_error("unknown chat template '{}' (known: deepseek-r1, chatml, llama3)",
                        opt.chat_template);
    e->template_.emplace(*kind, chat::TemplateOptions{token_text(v.bos), token_text(v.eos), ""});
  } else if (auto src = e->file_->get_string("tokenizer.chat_template")) {
    auto t = chat::template_from_model(*src, token_text(v.bos), token_text(v.eos));
    if (t.ok()) e->template_.emplace(std::move(t).value());
    // An unrecognized template only matters for chat; chat_prompt() says so.
  }

  int threads = opt.n_threads;
  if (threads < 0) return make_error("thread count must be >= 0, got {}", threads);
  if (threads == 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  e->pool_ = std::make_unique<ThreadPool>(threads);
  if (opt.prefault_progress) e->file_->prefault(opt.prefault_progress);
  e->load_s_ = seconds_since(t0);
  return e;
}

Result<std::vector<int32_t>> Engine::chat_prompt(std::span<const chat::Message> messages) const {
  if (!template_)
    return make_error(
        "the model's chat template is missing or not recognized; choose one with --chat-template "
        "(deepseek-r1, chatml, llama3)");
  FRUGAL_ASSIGN_OR_RETURN(std::string text, template_->render(messages, true));
  std::vector<int32_t> ids = tokenizer_->encode(text, /*parse_special=*/true);
  const auto& v = tokenizer_->vocab();
  // Templates that write the BOS text themselves already produced it; add it
  // only when neither did, so the prompt never starts with two.
  if (v.add_bos && v.bos >= 0 && (ids.empty() || ids.front() != v.bos))
    ids.insert(ids.begin(), v.bos);
  return ids;
}

std::vector<int32_t> Engine::text_prompt(std::string_view text) const {
  std::vector<int32_t> ids = tokenizer_->encode(text, /*parse_special=*/false);
  const auto& v = tokenizer_->vocab();
  if (v.add_bos && v.bos >= 0) ids.insert(ids.begin(), v.bos);
  return ids;
}

Session::Session(const Engine& engine)
    : engine_(engine),
      cache_(engine.model().hparams(), engine.n_ctx(), engine.kv_type()),
      logits_(static_cast<size_t>(engine.model().hparams().n_vocab)) {}

void Session::reset() {
  cache_.n_past = 0;
  history_.clear();
}

Result<GenerationResult> Session::generate(const GenerateRequest& req,
                                           const TextCallback& on_text) {
  const auto t0 = Clock::now();
  FRUGAL_TRY(req.sampling.validate());
  const auto& tok = engine_.tokenizer();
  const int64_t n_ctx = engine_.n_ctx();
  const int64_t n_prompt = static_cast<int64_t>(req.prompt.size());
  if (n_prompt == 0) return make_error("the prompt is empty");
  if (n_prompt >= n_ctx)
    return make_error("the prompt is {} tokens but the context holds {}; shorten it or raise -c",
                      n_prompt, n_ctx);
  for (int32_t id : req.prompt)
    if (!tok.valid(id)) return make_error("prompt token id {} is outside the vocabulary", id);
  if (req.max_tokens < -1) return make_error("max_tokens must be >= -1, got {}", req.max_tokens);

  // Reuse the cached prefix; at least one token must run to produce logits.
  size_t common = 0;
  while (common < history_.size() && common < req.prompt.size() &&
         history_[common] == req.prompt[common])
    ++common;
  if (common == req.prompt.size()) --common;
  cache_.n_past = static_cast<int64_t>(common);
  history_.resize(common);

  GenerationResult res;
  res.stats.n_prompt = n_prompt;
  res.stats.n_prompt_reused = static_cast<int64_t>(common);

  for (size_t pos = common; pos < req.prompt.size();) {
    const size_t n = std::min<size_t>(kPrefillChunk, req.prompt.size() - pos);
    std::span<const int32_t> chunk(req.prompt.data() + pos, n);
    auto st = engine_.model().forward(chunk, cache_, logits_, false, engine_.pool());
    if (!st.ok()) {
      reset();  // the cache may hold part of this prompt; start clean next time
      return st.error();
    }
    history_.insert(history_.end(), chunk.begin(), chunk.end());
    pos += n;
  }
  res.stats.prefill_s = seconds_since(t0);

  Sampler sampler(req.sampling, static_cast<int32_t>(engine_.model().hparams().n_vocab));
  tokenizer::StreamDecoder decoder(tok);
  StopMatcher stops(req.stop);
  Clock::time_point t_first{};
  res.finish = FinishReason::Length;

  auto emit = [&](const std::string& text) -> bool {
    if (text.empty()) return true;
    res.text += text;
    return !on_text || on_text(text);
  };

  bool done = false;
  while (!done) {
    if (req.max_tokens >= 0 && static_cast<int64_t>(res.tokens.size()) >= req.max_tokens) break;
    const int32_t id = sampler.sample(logits_);
    if (res.tokens.empty()) {
      t_first = Clock::now();
      res.stats.ttft_s = seconds_since(t0);
    }
    if (tok.is_eog(id)) {
      res.finish = FinishReason::Stop;
      res.end_token = id;
      break;
    }
    sampler.accept(id);
    res.tokens.push_back(id);
    auto out = stops.push(decoder.push(id));
    if (!emit(out.text)) {
      res.finish = FinishReason::Cancelled;
      done = true;
    } else if (out.stopped) {
      res.finish = FinishReason::Stop;
      done = true;
    }
    if (done) break;
    if (cache_.n_past >= n_ctx) break;  // context full: finish_reason = length
    if (req.max_tokens >= 0 && static_cast<int64_t>(res.tokens.size()) >= req.max_tokens) break;
    auto st = engine_.model().forward(std::span<const int32_t>(&id, 1), cache_, logits_, false,
                                      engine_.pool());
    if (!st.ok()) {
      reset();
      return st.error();
    }
    history_.push_back(id);
  }

  if (res.finish != FinishReason::Cancelled && !(res.finish == FinishReason::Stop && done)) {
    // Release text held back for UTF-8 completion or a possible stop string.
    auto out = stops.push(decoder.flush());
    std::string tail = out.text + (out.stopped ? std::string() : stops.flush());
    if (out.stopped) res.finish = FinishReason::Stop;
    emit(tail);
  }
  res.stats.n_generated = static_cast<int64_t>(res.tokens.size());
  if (!res.tokens.empty())
    res.stats.decode_s = std::chrono::duration<double>(Clock::now() - t_first).count();
  return res;
}

}  // namespace frugal::runtime
