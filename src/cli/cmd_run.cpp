// `frugal run MODEL [PROMPT]`: one answer, or an interactive chat when no
// prompt is given. The model's reasoning is shown dimmed under a "Thinking…"
// header, then the answer.
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <random>

#include "chat/reasoning_splitter.h"
#include "cli/commands.h"
#include "cli/memory_report.h"
#include "common/process_memory.h"
#include "runtime/engine.h"

namespace frugal::cli {

namespace {

std::atomic<bool> g_interrupted{false};
void on_sigint(int) {
  g_interrupted = true;
}

struct RunFlags {
  std::string model;
  std::string prompt;
  std::string system;
  std::string chat_template;
  std::string color = "auto";
  std::vector<std::string> stop;
  int threads = 0;
  int64_t ctx = 0;
  std::string kv_type = "f16";
  int32_t max_tokens = -1;
  runtime::SamplingParams sampling;
  int64_t seed = -1;
  bool raw = false;
  bool hide_thinking = false;
  bool verbose = false;
};

// Writes the two streams to the terminal: reasoning dimmed under a header,
// then the answer.
class ReplyPrinter {
 public:
  ReplyPrinter(bool color, bool hide_thinking) : color_(color), hide_(hide_thinking) {}

  void print(const chat::ReasoningDelta& d) {
    if (!d.reasoning.empty() && !hide_) {
      if (!in_thinking_) {
        std::fputs(color_ ? "\033[2mThinking…\n" : "Thinking…\n", stdout);
        in_thinking_ = true;
        shown_thinking_ = true;
      }
      std::fputs(d.reasoning.c_str(), stdout);
    }
    if (!d.content.empty()) {
      end_thinking();
      std::fputs(d.content.c_str(), stdout);
    }
    std::fflush(stdout);
  }

  void finish() {
    end_thinking();
    std::fputs("\n", stdout);
    std::fflush(stdout);
  }

 private:
  void end_thinking() {
    if (!in_thinking_) return;
    std::fputs(color_ ? "\033[0m\n\n" : "\n\n", stdout);
    in_thinking_ = false;
  }
  bool color_, hide_;
  bool in_thinking_ = false;
  bool shown_thinking_ = false;
};

void print_stats(const runtime::GenerationStats& s, runtime::FinishReason finish) {
  std::fprintf(stderr,
               "\n[prompt: %lld tokens (%lld reused), prefill %.1f tok/s | generated: %lld tokens, "
               "decode %.1f tok/s | time to first token %.0f ms | finish: %s]\n",
               static_cast<long long>(s.n_prompt), static_cast<long long>(s.n_prompt_reused),
               s.prefill_tps(), static_cast<long long>(s.n_generated), s.decode_tps(),
               s.ttft_s * 1e3, std::string(runtime::finish_reason_name(finish)).c_str());
}

// Generates one reply to `prompt`, printing as it goes; returns the raw text.
Result<std::string> reply(runtime::Session& session, const runtime::Engine& engine,
                          const ProcessMemory& before_load, const RunFlags& f,
                          std::vector<int32_t> prompt, bool color) {
  runtime::GenerateRequest req;
  req.prompt = std::move(prompt);
  req.sampling = f.sampling;
  req.max_tokens = f.max_tokens;
  req.stop = f.stop;
  const bool opens = !f.raw && engine.chat_template().prompt_opens_reasoning();
  chat::ReasoningSplitter splitter(opens);
  ReplyPrinter printer(color, f.hide_thinking);
  g_interrupted = false;
  auto r = session.generate(req, [&](std::string_view text) {
    if (f.raw) {
      printer.print({"", std::string(text)});
    } else {
      printer.print(splitter.push(text));
    }
    return !g_interrupted.load();
  });
  if (!f.raw) printer.print(splitter.finish());
  printer.finish();
  if (!r.ok()) return r.error();
  if (f.verbose) {
    print_stats(r->stats, r->finish);
    print_memory(engine, before_load);
  }
  return r->text;
}

int run(RunFlags f) {
  if (f.seed >= 0) {
    f.sampling.seed = static_cast<uint64_t>(f.seed);
  } else {
    f.sampling.seed = std::random_device{}();
  }
  if (auto st = f.sampling.validate(); !st.ok()) return fail(st.error().message);
  if (f.max_tokens < -1)
    return fail(fmt::format("--max-tokens must be >= -1, got {}", f.max_tokens));
  const bool color = f.color == "always" || (f.color == "auto" && isatty(STDOUT_FILENO));

  runtime::EngineOptions opt;
  opt.model_path = f.model;
  opt.n_threads = f.threads;
  opt.n_ctx = f.ctx;
  opt.chat_template = f.chat_template;
  auto kv = model::parse_kv_type(f.kv_type);
  if (!kv.ok()) return fail("--kv-type: " + kv.error().message);
  opt.kv_type = *kv;
  const ProcessMemory before_load = process_memory();
  auto engine_r = runtime::Engine::load(opt);
  if (!engine_r.ok()) return fail(engine_r.error().message);
  const runtime::Engine& engine = **engine_r;
  if (f.verbose)
    std::fprintf(
        stderr,
        "[loaded %s in %.2f s: %s, %lld layers, context %lld, KV %s, %d threads, RSS %.1f MiB]\n",
        f.model.c_str(), engine.load_seconds(), engine.model().hparams().arch.c_str(),
        static_cast<long long>(engine.model().hparams().n_layer),
        static_cast<long long>(engine.n_ctx()), model::kv_type_name(engine.kv_type()),
        engine.pool().size(), static_cast<double>(process_memory().rss_bytes) / (1024.0 * 1024.0));
  runtime::Session session(engine);
  std::signal(SIGINT, on_sigint);

  std::vector<chat::Message> messages;
  if (!f.system.empty()) messages.push_back({"system", f.system});

  auto turn = [&](const std::string& user_text) -> Result<void> {
    std::vector<int32_t> prompt;
    if (f.raw) {
      prompt = engine.text_prompt(user_text);
    } else {
      messages.push_back({"user", user_text});
      auto p = engine.chat_prompt(messages);
      if (!p.ok()) {
        messages.pop_back();
        return p.error();
      }
      prompt = std::move(*p);
    }
    auto text = reply(session, engine, before_load, f, std::move(prompt), color);
    if (!text.ok()) {
      if (!f.raw) messages.pop_back();
      return text.error();
    }
    // R1 replies start inside <think>, opened by the prompt; keep the tag so
    // the template can drop the reasoning from earlier turns as R1 expects.
    std::string stored = *text;
    if (!f.raw && engine.chat_template().prompt_opens_reasoning()) stored = "<think>\n" + stored;
    if (!f.raw) messages.push_back({"assistant", stored});
    return {};
  };

  if (!f.prompt.empty()) {
    auto st = turn(f.prompt);
    return st.ok() ? 0 : fail(st.error().message);
  }

  const bool interactive = isatty(STDIN_FILENO);
  if (interactive)
    std::fprintf(
        stderr,
        "Chatting with %s. Type /exit to quit, /clear to start over, Ctrl-C stops a reply.\n",
        f.model.c_str());
  std::string line;
  for (;;) {
    if (interactive) std::fputs(color ? "\033[1m> \033[0m" : "> ", stdout), std::fflush(stdout);
    if (!std::getline(std::cin, line)) break;
    if (line == "/exit" || line == "/quit") break;
    if (line == "/clear") {
      messages.clear();
      if (!f.system.empty()) messages.push_back({"system", f.system});
      session.reset();
      continue;
    }
    if (line.empty()) continue;
    auto st = turn(line);
    if (!st.ok()) {
      std::fprintf(stderr, "frugal: %s\n", st.error().message.c_str());
      if (!interactive) return 1;
    }
  }
  return 0;
}

}  // namespace

Action add_run_command(CLI::App& app) {
  auto* cmd =
      app.add_subcommand("run", "Run a model: one answer for PROMPT, or an interactive chat");
  auto f = std::make_shared<RunFlags>();
  cmd->add_option("MODEL", f->model, "Path to a .gguf model file")->required();
  cmd->add_option("PROMPT", f->prompt,
                  "Prompt for a one-shot answer; omit for an interactive chat");
  cmd->add_option("-s,--system", f->system, "System prompt");
  cmd->add_option("-t,--threads", f->threads, "Threads (default: all hardware threads)");
  cmd->add_option("-c,--ctx-size", f->ctx,
                  "Context size in tokens (default: the model's, at most 8192)");
  cmd->add_option("--kv-type", f->kv_type,
                  "KV cache element type: f16 (default: half the memory, and the faster decode at "
                  "depth measured on AVX2) or f32 (the parity tests' arithmetic)");
  cmd->add_option("-n,--max-tokens", f->max_tokens,
                  "Most tokens to generate per reply (-1: until done or the context is full)");
  cmd->add_option("--temp", f->sampling.temperature,
                  "Temperature; 0 = greedy (default 0.6, R1's recommendation)");
  cmd->add_option("--top-p", f->sampling.top_p, "Nucleus sampling mass (default 0.95)");
  cmd->add_option("--top-k", f->sampling.top_k, "Keep the k most likely tokens; 0 = off (default)");
  cmd->add_option("--min-p", f->sampling.min_p,
                  "Drop tokens below min-p x the top probability; 0 = off");
  cmd->add_option("--repeat-penalty", f->sampling.repetition_penalty,
                  "Repetition penalty; 1 = off");
  cmd->add_option("--presence-penalty", f->sampling.presence_penalty,
                  "Presence penalty (OpenAI semantics)");
  cmd->add_option("--frequency-penalty", f->sampling.frequency_penalty,
                  "Frequency penalty (OpenAI semantics)");
  cmd->add_option("--seed", f->seed, "Random seed (default: random)");
  cmd->add_option("--stop", f->stop, "Stop when this text is generated (repeatable)");
  cmd->add_option("--chat-template", f->chat_template,
                  "Force a chat template: deepseek-r1, chatml, llama3");
  cmd->add_flag("--raw", f->raw, "No chat template: continue PROMPT as plain text");
  cmd->add_flag("--hide-thinking", f->hide_thinking, "Do not show the model's reasoning");
  cmd->add_flag("-v,--verbose", f->verbose, "Print load info and per-reply statistics to stderr");
  cmd->add_option("--color", f->color, "Dim the reasoning: auto, always, never")
      ->check(CLI::IsMember({"auto", "always", "never"}));
  return [f]() { return run(*f); };
}

}  // namespace frugal::cli
