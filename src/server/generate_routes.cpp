// The generation endpoints: OpenAI chat and text completions (JSON or SSE)
// and Ollama's /api/chat (JSON or NDJSON). Each parses its body into plain
// params, builds the prompt tokens, hands a Job to the scheduler and turns
// the Job's deltas into its wire format.
#include <chrono>
#include <cstdio>
#include <ctime>
#include <optional>
#include <random>

#include "server/peer_socket.h"
#include "server/state.h"

namespace frugal::server {

namespace {

using Clock = std::chrono::steady_clock;

// What the HTTP side takes out of a Job in one go.
struct Pulled {
  std::string raw, reasoning, content;
  bool done = false;
  bool failed = false;
  std::string error;
  runtime::FinishReason finish = runtime::FinishReason::Stop;
  int64_t n_prompt = 0, n_completion = 0, n_reasoning = 0;
};

Pulled pull(Job& job, std::chrono::milliseconds wait) {
  std::unique_lock lock(job.mu);
  job.cv.wait_for(lock, wait, [&] {
    return job.done || !job.raw.empty() || !job.reasoning.empty() || !job.content.empty();
  });
  Pulled p;
  p.raw = std::move(job.raw);
  p.reasoning = std::move(job.reasoning);
  p.content = std::move(job.content);
  job.raw.clear(), job.reasoning.clear(), job.content.clear();
  p.done = job.done;
  p.failed = job.failed;
  p.error = job.error;
  p.finish = job.finish;
  p.n_prompt = job.n_prompt;
  p.n_completion = job.n_completion;
  p.n_reasoning = job.n_reasoning;
  return p;
}

// Blocks until the job is over; returns everything it produced. A client
// that hangs up meanwhile cancels the job, seen within one 100 ms pull
// (peer_socket.h says how), so its slot or queue place is freed at once
// instead of generating on to max_tokens for nobody.
Pulled wait_all(Scheduler& sched, Job& job, const httplib::Request& req) {
  const std::optional<int> fd =
      find_connection_socket(req.remote_addr, req.remote_port, req.local_addr, req.local_port);
  Pulled all;
  for (;;) {
    Pulled p = pull(job, std::chrono::milliseconds(100));
    all.raw += p.raw, all.reasoning += p.reasoning, all.content += p.content;
    if (p.done) {
      p.raw = std::move(all.raw), p.reasoning = std::move(all.reasoning);
      p.content = std::move(all.content);
      return p;
    }
    if (fd && !job.cancelled.load() && peer_hung_up(*fd)) sched.cancel(job);
  }
}

std::string finish_name(runtime::FinishReason f) {
  return f == runtime::FinishReason::Length ? "length" : "stop";
}

std::string random_id(const char* prefix) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return fmt::format("{}{:016x}", prefix, rng());
}

json usage_json(const Pulled& p) {
  return {{"prompt_tokens", p.n_prompt},
          {"completion_tokens", p.n_completion},
          {"total_tokens", p.n_prompt + p.n_completion},
          {"completion_tokens_details", {{"reasoning_tokens", p.n_reasoning}}}};
}

void log_job(const char* route, const Pulled& p, Clock::time_point t0) {
  // Counts and durations only (DESIGN §8).
  std::fprintf(
      stderr, "frugal serve: %s prompt=%lld completion=%lld reasoning=%lld finish=%s %.3fs\n",
      route, static_cast<long long>(p.n_prompt), static_cast<long long>(p.n_completion),
      static_cast<long long>(p.n_reasoning),
      p.failed ? "error"
               : (p.finish == runtime::FinishReason::Cancelled ? "cancelled"
                                                               : finish_name(p.finish).c_str()),
      std::chrono::duration<double>(Clock::now() - t0).count());
}

// Prompt tokens for a chat. With thinking off, R1 templates get an empty,
// closed reasoning block prefilled ("<think>\n\n</think>\n\n").
std::optional<ApiError> build_chat_prompt(const State& st, const ChatParams& p,
                                          std::vector<int32_t>& ids, bool& starts_in_reasoning) {
  const auto& eng = *st.engine;
  auto base = eng.chat_prompt(p.messages);
  if (!base.ok()) {
    ApiError e = invalid("messages", base.error().message, "invalid_value");
    return e;
  }
  const chat::Template& t = eng.chat_template();
  starts_in_reasoning = t.prompt_opens_reasoning();
  if (p.gen.thinking || !starts_in_reasoning) {
    ids = std::move(*base);
    return std::nullopt;
  }
  chat::Template off = t;
  off.set_enable_thinking(false);
  auto text = off.render(p.messages, true);
  if (!text.ok()) return invalid("messages", text.error().message);
  if (off.prompt_opens_reasoning()) *text += "\n</think>\n\n";  // no switch in this template
  starts_in_reasoning = false;
  const auto& tok = eng.tokenizer();
  ids = tok.encode(*text, /*parse_special=*/true);
  const auto& v = tok.vocab();
  if (v.add_bos && v.bos >= 0 && (ids.empty() || ids.front() != v.bos))
    ids.insert(ids.begin(), v.bos);
  return std::nullopt;
}

// Fills the job's request from `g`; errors are the client's.
std::optional<ApiError> make_job(const State& st, const GenParams& g, std::vector<int32_t> prompt,
                                 Job& job) {
  const int64_t n_ctx = st.engine->n_ctx();
  if (static_cast<int64_t>(prompt.size()) >= n_ctx)
    return invalid("messages",
                   fmt::format("the prompt is {} tokens but the context holds {}; shorten it",
                               prompt.size(), n_ctx),
                   "context_length_exceeded");
  job.req.prompt = std::move(prompt);
  job.req.sampling = g.sampling;
  if (!g.has_seed) job.req.sampling.seed = std::random_device{}();
  if (auto s = job.req.sampling.validate(); !s.ok()) return invalid("", s.error().message);
  job.req.max_tokens = g.max_tokens;
  if (job.req.max_tokens < 0 && st.opt.limits.max_tokens_cap > 0)
    job.req.max_tokens = st.opt.limits.max_tokens_cap;
  job.req.stop = g.stop;
  job.reasoning_budget = g.reasoning_budget;
  job.ignore_eos = g.ignore_eos;
  job.close_reasoning_ids = st.engine->tokenizer().encode("\n</think>\n\n", /*parse_special=*/true);
  return std::nullopt;
}

bool submit_or_reject(State& st, const std::shared_ptr<Job>& job, httplib::Response& res) {
  if (st.scheduler->submit(job)) return true;
  ApiError e;
  e.status = 429;
  e.type = "rate_limit_error";
  e.code = "queue_full";
  e.message = "the server is busy (all slots and the queue are full); retry later";
  res.set_header("Retry-After", "1");
  send_error(res, e);
  return false;
}

// Streams a job: `delta` turns each pull into bytes, `tail` writes the end.
// A failed write (the client left) or the response's end cancels the job,
// which frees its slot in the scheduler's next round.
using Formatter = std::function<std::string(const Pulled&)>;

void stream_job(Scheduler& sched, httplib::Response& res, std::shared_ptr<Job> job,
                const char* content_type, std::string head, Formatter delta, Formatter tail,
                const char* route) {
  auto t0 = Clock::now();
  auto started = std::make_shared<bool>(false);
  const bool sse = std::string_view(content_type) == "text/event-stream";
  res.set_header("Cache-Control", "no-cache");
  res.set_chunked_content_provider(
      content_type,
      [&sched, job, started, sse, head, delta, tail, route, t0](size_t, httplib::DataSink& sink) {
        auto write = [&](const std::string& s) {
          return s.empty() || sink.write(s.data(), s.size());
        };
        if (!*started) {
          *started = true;
          if (!write(head)) {
            sched.cancel(*job);
            return false;
          }
        }
        Pulled p = pull(*job, std::chrono::milliseconds(100));
        std::string out = delta(p);
        // Nothing to send yet (queued, or a long prefill): an SSE comment,
        // which clients ignore, shows within two rounds whether the client
        // is still there, so one that left frees its queue place or slot.
        if (out.empty() && !p.done && sse) out = ": ping\n\n";
        if (!write(out)) {
          sched.cancel(*job);
          return false;
        }
        if (p.done) {
          log_job(route, p, t0);
          write(tail(p));
          sink.done();
        }
        return true;
      },
      [&sched, job](bool) { sched.cancel(*job); });
}

json chat_chunk(const State& st, const std::string& id, std::time_t created, json delta,
                json finish = nullptr) {
  return {
      {"id", id},
      {"object", "chat.completion.chunk"},
      {"created", created},
      {"model", st.model_id},
      {"choices",
       json::array(
           {{{"index", 0}, {"delta", std::move(delta)}, {"finish_reason", std::move(finish)}}})}};
}

// The common start of a chat request (OpenAI or Ollama shape): parse and
// validate, render the prompt, queue the job. On failure the response already
// holds the error and nullptr is returned.
using ChatParser = std::optional<ApiError> (*)(const json&, const Limits&, ChatParams&);
std::shared_ptr<Job> start_chat_job(State& st, const httplib::Request& req, httplib::Response& res,
                                    ChatParser parse, ChatParams& p) {
  if (reject_if_loading(st, res)) return nullptr;
  ApiError err;
  auto body = parse_body(req.body, err);
  if (!body) return send_error(res, err), nullptr;
  if (auto e = parse(*body, st.opt.limits, p)) return send_error(res, *e), nullptr;
  auto job = std::make_shared<Job>();
  std::vector<int32_t> ids;
  if (auto e = build_chat_prompt(st, p, ids, job->starts_in_reasoning))
    return send_error(res, *e), nullptr;
  if (auto e = make_job(st, p.gen, std::move(ids), *job)) return send_error(res, *e), nullptr;
  job->split_reasoning = true;
  if (!submit_or_reject(st, job, res)) return nullptr;
  return job;
}

}  // namespace

void handle_chat(State& st, const httplib::Request& req, httplib::Response& res) {
  ChatParams p;
  auto job = start_chat_job(st, req, res, parse_chat_request, p);
  if (!job) return;

  const ReasoningFormat fmt_kind = st.opt.reasoning_format;
  const std::string rfield(reasoning_field(fmt_kind));
  const std::string id = random_id("chatcmpl-");
  const std::time_t created = std::time(nullptr);
  if (!p.gen.stream) {
    auto t0 = Clock::now();
    Pulled all = wait_all(*st.scheduler, *job, req);
    log_job("/v1/chat/completions", all, t0);
    if (all.failed) {
      ApiError e;
      e.status = 500, e.type = "server_error", e.message = all.error;
      return send_error(res, e);
    }
    json msg = {{"role", "assistant"}};
    if (fmt_kind == ReasoningFormat::None) {
      msg["content"] = all.raw;
    } else {
      msg["content"] = all.content;
      msg[rfield] = all.reasoning.empty() ? json(nullptr) : json(all.reasoning);
    }
    json out = {
        {"id", id},
        {"object", "chat.completion"},
        {"created", created},
        {"model", st.model_id},
        {"choices",
         json::array(
             {{{"index", 0}, {"message", msg}, {"finish_reason", finish_name(all.finish)}}})},
        {"usage", usage_json(all)}};
    res.set_content(json_text(out), "application/json");
    return;
  }

  const bool include_usage = p.gen.include_usage;
  const State* s = &st;
  std::string head =
      sse_event(chat_chunk(st, id, created, {{"role", "assistant"}, {"content", ""}}));
  Formatter delta = [s, id, created, fmt_kind, rfield](const Pulled& p) {
    std::string out;
    if (fmt_kind == ReasoningFormat::None) {
      if (!p.raw.empty()) out += sse_event(chat_chunk(*s, id, created, {{"content", p.raw}}));
      return out;
    }
    if (!p.reasoning.empty())
      out += sse_event(chat_chunk(*s, id, created, {{rfield, p.reasoning}}));
    if (!p.content.empty()) out += sse_event(chat_chunk(*s, id, created, {{"content", p.content}}));
    return out;
  };
  Formatter tail = [s, id, created, include_usage](const Pulled& p) {
    std::string out;
    if (p.failed) {
      ApiError e;
      e.status = 500, e.type = "server_error", e.message = p.error;
      out += sse_event(error_body(e));
    } else {
      out += sse_event(chat_chunk(*s, id, created, json::object(), finish_name(p.finish)));
    }
    if (include_usage) {
      json u = {{"id", id},
                {"object", "chat.completion.chunk"},
                {"created", created},
                {"model", s->model_id},
                {"choices", json::array()},
                {"usage", usage_json(p)}};
      out += sse_event(u);
    }
    out += kSseDone;
    return out;
  };
  stream_job(*st.scheduler, res, job, "text/event-stream", head, delta, tail,
             "/v1/chat/completions");
}

void handle_completion(State& st, const httplib::Request& req, httplib::Response& res) {
  if (reject_if_loading(st, res)) return;
  ApiError err;
  auto body = parse_body(req.body, err);
  if (!body) return send_error(res, err);
  CompletionParams p;
  if (auto e = parse_completion_request(*body, st.opt.limits, p)) return send_error(res, *e);
  auto job = std::make_shared<Job>();
  if (auto e = make_job(st, p.gen, st.engine->text_prompt(p.prompt), *job))
    return send_error(res, *e);
  job->split_reasoning = false;
  if (!submit_or_reject(st, job, res)) return;

  const std::string id = random_id("cmpl-");
  const std::time_t created = std::time(nullptr);
  const State* s = &st;
  auto chunk = [s, id, created](const std::string& text, json finish) {
    return json{{"id", id},
                {"object", "text_completion"},
                {"created", created},
                {"model", s->model_id},
                {"choices", json::array({{{"index", 0},
                                          {"text", text},
                                          {"logprobs", nullptr},
                                          {"finish_reason", std::move(finish)}}})}};
  };
  if (!p.gen.stream) {
    auto t0 = Clock::now();
    Pulled all = wait_all(*st.scheduler, *job, req);
    log_job("/v1/completions", all, t0);
    if (all.failed) {
      ApiError e;
      e.status = 500, e.type = "server_error", e.message = all.error;
      return send_error(res, e);
    }
    json out = chunk(all.content, finish_name(all.finish));
    out["usage"] = usage_json(all);
    res.set_content(json_text(out), "application/json");
    return;
  }
  const bool include_usage = p.gen.include_usage;
  Formatter delta = [chunk](const Pulled& p) {
    return p.content.empty() ? std::string() : sse_event(chunk(p.content, nullptr));
  };
  Formatter tail = [chunk, include_usage, s, id, created](const Pulled& p) {
    std::string out = sse_event(chunk("", finish_name(p.finish)));
    if (include_usage) {
      out += sse_event(json{{"id", id},
                            {"object", "text_completion"},
                            {"created", created},
                            {"model", s->model_id},
                            {"choices", json::array()},
                            {"usage", usage_json(p)}});
    }
    return out + std::string(kSseDone);
  };
  stream_job(*st.scheduler, res, job, "text/event-stream", "", delta, tail, "/v1/completions");
}

void handle_ollama_chat(State& st, const httplib::Request& req, httplib::Response& res) {
  ChatParams p;
  auto job = start_chat_job(st, req, res, parse_ollama_chat, p);
  if (!job) return;

  const State* s = &st;
  auto now_iso = [] {
    std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return std::string(buf);
  };
  auto line = [s, now_iso](const std::string& reasoning, const std::string& content, bool done) {
    json msg = {{"role", "assistant"}, {"content", content}};
    if (!reasoning.empty()) msg["thinking"] = reasoning;
    return json{
        {"model", s->model_id}, {"created_at", now_iso()}, {"message", msg}, {"done", done}};
  };
  auto final_fields = [](json& j, const Pulled& p) {
    j["done_reason"] = finish_name(p.finish);
    j["prompt_eval_count"] = p.n_prompt;
    j["eval_count"] = p.n_completion;
  };
  if (!p.gen.stream) {
    auto t0 = Clock::now();
    Pulled all = wait_all(*st.scheduler, *job, req);
    log_job("/api/chat", all, t0);
    if (all.failed) {
      ApiError e;
      e.status = 500, e.type = "server_error", e.message = all.error;
      return send_error(res, e);
    }
    json out = line(all.reasoning, all.content, true);
    final_fields(out, all);
    res.set_content(json_text(out), "application/json");
    return;
  }
  Formatter delta = [line](const Pulled& p) {
    if (p.reasoning.empty() && p.content.empty()) return std::string();
    return json_text(line(p.reasoning, p.content, false)) + "\n";
  };
  Formatter tail = [line, final_fields](const Pulled& p) {
    if (p.failed) return json_text(json{{"error", p.error}}) + "\n";
    json j = line("", "", true);
    final_fields(j, p);
    return json_text(j) + "\n";
  };
  stream_job(*st.scheduler, res, job, "application/x-ndjson", "", delta, tail, "/api/chat");
}

}  // namespace frugal::server
