#include "train_cli/pipeline.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "gguf/gguf_writer.h"
#include "runtime/engine.h"
#include "train/addition_task.h"
#include "train/grpo_trainer.h"
#include "train/rewards.h"
#include "train/sft.h"
#include "train/tiny_model.h"

namespace frugal::train_cli {
namespace {

using Clock = std::chrono::steady_clock;
using train::AdditionProblem;
using train::ReplyStyle;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::string mm_ss(double s) {
  const int t = static_cast<int>(s);
  return fmt::format("{}:{:02d}", t / 60, t % 60);
}

// The teacher and its student (under a quarter of its parameters).
train::TinyModelShape teacher_shape() {
  train::TinyModelShape s;
  s.name = "frugal-tiny-teacher";
  s.n_embd = 96;
  s.n_layer = 4;
  s.n_head = 4;
  s.n_head_kv = 4;
  s.n_ff = 256;
  return s;
}
train::TinyModelShape student_shape() {
  train::TinyModelShape s;
  s.name = "frugal-tiny-student";
  s.n_embd = 48;
  s.n_layer = 3;
  s.n_head = 4;
  s.n_head_kv = 4;
  s.n_ff = 128;
  return s;
}

constexpr int kMaxReplyTokens = 96;  // the longest reasoned 4-digit reply is ~70

Status write_file(const std::filesystem::path& path, const std::vector<uint8_t>& bytes) {
  std::filesystem::path tmp = path;
  tmp += ".tmp";
  std::ofstream o(tmp, std::ios::binary | std::ios::trunc);
  o.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  o.close();
  std::error_code ec;
  if (!o) {
    std::filesystem::remove(tmp, ec);
    return make_error("cannot write {}", path.string());
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec) return make_error("cannot write {}: {}", path.string(), ec.message());
  return {};
}

Result<std::unique_ptr<runtime::Engine>> engine_on(std::vector<uint8_t> image, int threads) {
  runtime::EngineOptions eo;
  eo.model_image = std::make_shared<const std::vector<uint8_t>>(std::move(image));
  eo.n_threads = threads;
  eo.n_ctx = 160;
  return runtime::Engine::load(eo);
}

Result<std::vector<int32_t>> prompt_ids(const runtime::Engine& e, const AdditionProblem& p) {
  return e.chat_prompt(std::vector<chat::Message>{{"user", train::addition_question(p)}});
}

// Prompt + reply + end of sentence; the loss covers the reply and the end.
Result<train::SftExample> sft_example(const runtime::Engine& e, const AdditionProblem& p,
                                      std::string_view reply) {
  train::SftExample ex;
  FRUGAL_ASSIGN_OR_RETURN(ex.tokens, prompt_ids(e, p));
  ex.n_prompt = static_cast<int32_t>(ex.tokens.size());
  for (int32_t id : e.tokenizer().encode(reply, /*parse_special=*/true)) ex.tokens.push_back(id);
  ex.tokens.push_back(e.tokenizer().vocab().eos);
  return ex;
}

train::Reward score(std::string_view reply, const AdditionProblem& p) {
  train::RewardProblem rp;
  rp.expected = *eval::parse_number(std::to_string(p.sum()));
  train::RewardOptions o;  // R1-Zero: the prompt opened <think>, which must close
  return train::score_completion(reply, rp, o);
}

struct HeldOutScore {
  double accuracy = 0;  // share answered correctly (greedy)
  double reasoned = 0;  // share of replies that reasoned digit by digit
  double mean_tokens = 0;
};

// Greedy replies to every held-out problem.
Result<HeldOutScore> evaluate(const runtime::Engine& e, const std::vector<AdditionProblem>& ps) {
  runtime::Session session(e);
  HeldOutScore s;
  for (const AdditionProblem& p : ps) {
    runtime::GenerateRequest req;
    FRUGAL_ASSIGN_OR_RETURN(req.prompt, prompt_ids(e, p));
    req.max_tokens = kMaxReplyTokens;
    req.sampling.temperature = 0;
    FRUGAL_ASSIGN_OR_RETURN(runtime::GenerationResult r, session.generate(req, nullptr));
    s.accuracy += score(r.text, p).accuracy == 1.0;
    s.reasoned += train::reply_style(r.text, p) == ReplyStyle::Reasoned;
    s.mean_tokens += static_cast<double>(r.tokens.size());
  }
  const auto n = static_cast<double>(ps.size());
  return HeldOutScore{s.accuracy / n, s.reasoned / n, s.mean_tokens / n};
}

// A random training problem whose operands have min..max digits.
AdditionProblem train_problem(std::mt19937_64& rng, int min_digits, int max_digits) {
  for (;;) {
    const auto ps = train::addition_problems(rng(), 1, min_digits, max_digits, train::Split::Train);
    if (!ps.empty()) return ps[0];
  }
}

int64_t parameters(train::Policy& p) {
  int64_t n = 0;
  for (const auto& [name, w] : p.weights()) n += w.numel();
  return n;
}

// Stage 1: SFT from random weights on the synthetic corpus.
Result<double> pretrain(const PipelineFlags& f, const runtime::Engine& tok, const std::string& init,
                        const std::string& out, const std::string& label, std::ofstream& csv) {
  train::SftOptions o;
  o.learning_rate = f.pretrain_lr;
  o.bf16 = f.bf16;
  o.total_steps = f.pretrain_steps;
  o.warmup_steps = std::min(50, f.pretrain_steps / 10);
  FRUGAL_ASSIGN_OR_RETURN(auto trainer, train::SftTrainer::create(init, o));
  std::mt19937_64 rng(f.seed * 7919 + 1);
  std::bernoulli_distribution reasoned(f.reasoned_share), careless(f.careless_share);
  const auto t0 = Clock::now();
  double smoothed = 0;
  for (int s = 0; s < f.pretrain_steps; ++s) {
    std::vector<train::SftExample> batch;
    for (int i = 0; i < f.pretrain_batch; ++i) {
      const AdditionProblem p = train_problem(rng, f.pretrain_min_digits, f.pretrain_max_digits);
      const ReplyStyle style = reasoned(rng)   ? ReplyStyle::Reasoned
                               : careless(rng) ? ReplyStyle::Careless
                                               : ReplyStyle::Direct;
      FRUGAL_ASSIGN_OR_RETURN(train::SftExample ex,
                              sft_example(tok, p, train::addition_reply(p, style)));
      batch.push_back(std::move(ex));
    }
    const double lr = trainer->current_learning_rate();
    FRUGAL_ASSIGN_OR_RETURN(double loss, trainer->step(batch));
    smoothed = s == 0 ? loss : 0.95 * smoothed + 0.05 * loss;
    const double el = seconds_since(t0);
    csv << fmt::format("{},{},{:.6g},{:.6g},{:.2f}\n", label, s + 1, loss, lr, el);
    if ((s + 1) % 50 == 0 || s + 1 == f.pretrain_steps) {
      csv.flush();
      std::fprintf(stderr, "pretrain %s  step %d/%d  loss %.4f  %.2f s/step  ETA %s\n",
                   label.c_str(), s + 1, f.pretrain_steps, smoothed, el / (s + 1),
                   mm_ss(el / (s + 1) * (f.pretrain_steps - s - 1)).c_str());
    }
  }
  FRUGAL_ASSIGN_OR_RETURN(auto image, trainer->export_image(gguf::GgmlType::F32));
  FRUGAL_TRY(write_file(out, image));
  return seconds_since(t0);
}

Result<HeldOutScore> evaluate_file(const std::string& model, int threads,
                                   const std::vector<AdditionProblem>& ps) {
  runtime::EngineOptions o;
  o.model_path = model;
  o.n_threads = threads;
  o.n_ctx = 160;
  FRUGAL_ASSIGN_OR_RETURN(auto e, runtime::Engine::load(o));
  return evaluate(*e, ps);
}

// The held-out problems of a run with this seed.
std::vector<AdditionProblem> heldout_problems(uint64_t seed, int n, int digits) {
  return train::addition_problems(seed + 1000, n, digits, digits, train::Split::HeldOut);
}

}  // namespace

int run_addition_eval(const std::string& model, uint64_t seed, int digits, int heldout,
                      int threads) {
  if (digits < 1 || digits > 4 || heldout < 1 || threads < 1) {
    std::fprintf(stderr, "frugal-train: digits must be 1..4, held-out and threads >= 1\n");
    return 1;
  }
  auto h = evaluate_file(model, threads, heldout_problems(seed, heldout, digits));
  if (!h.ok()) {
    std::fprintf(stderr, "frugal-train: %s\n", h.error().message.c_str());
    return 1;
  }
  std::printf("%s\n", nlohmann::json{{"model", model},
                                     {"heldout", heldout},
                                     {"digits", digits},
                                     {"seed", seed},
                                     {"accuracy", h->accuracy},
                                     {"reasoned", h->reasoned},
                                     {"mean_tokens", h->mean_tokens}}
                          .dump()
                          .c_str());
  return 0;
}

int run_pipeline(const PipelineFlags& f) {
  auto fail = [](const std::string& m) {
    std::fprintf(stderr, "frugal-train: %s\n", m.c_str());
    return 1;
  };
  if (f.pretrain_steps < 1 || f.grpo_steps < 0 || f.distill_steps < 1 || f.heldout < 1 ||
      f.pretrain_batch < 1 || f.grpo_prompts < 1 || f.grpo_group < 2 || f.eval_every < 1 ||
      f.distill_problems < 1 || f.distill_samples < 1)
    return fail("pipeline: step, batch and problem counts must be positive (group >= 2)");
  if (f.pretrain_min_digits < 1 || f.pretrain_min_digits > f.pretrain_max_digits ||
      f.pretrain_max_digits > 4 || f.grpo_digits < 1 || f.grpo_digits > 4)
    return fail("pipeline: digits must be between 1 and 4");
  if (!(f.reasoned_share >= 0 && f.reasoned_share <= 1) ||
      !(f.careless_share >= 0 && f.careless_share <= 1))
    return fail("pipeline: --reasoned-share and --careless-share must be in [0, 1]");
  namespace fs = std::filesystem;
  const fs::path dir(f.out_dir);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return fail("cannot create " + f.out_dir + ": " + ec.message());
  torch::manual_seed(f.seed);
  torch::set_num_threads(f.threads);
  const auto t_all = Clock::now();
  nlohmann::json summary = {{"seed", f.seed}, {"threads", f.threads}, {"bf16", f.bf16}};

  // Random initial weights of both models.
  const auto path = [&](const char* name) { return (dir / name).string(); };
  for (auto [shape, name] : {std::pair{teacher_shape(), "teacher-init.gguf"},
                             std::pair{student_shape(), "student-init.gguf"}}) {
    auto image = train::tiny_model_image(shape, f.seed + (shape.n_embd == 48));
    if (!image.ok()) return fail(image.error().message);
    if (auto st = write_file(path(name), *image); !st.ok()) return fail(st.error().message);
  }
  runtime::EngineOptions eo;
  eo.model_path = path("teacher-init.gguf");
  eo.n_threads = 1;
  eo.n_ctx = 160;
  auto tok = runtime::Engine::load(eo);  // the shared tokenizer and chat template
  if (!tok.ok()) return fail(tok.error().message);

  const auto heldout = heldout_problems(f.seed, f.heldout, f.grpo_digits);
  {
    // The held-out problems as `frugal eval --problems` reads them, so any
    // engine (llama.cpp through tools/eval_llama_cpp.py) can be run on them.
    std::ofstream o(dir / "heldout.jsonl", std::ios::trunc);
    for (size_t i = 0; i < heldout.size(); ++i)
      o << nlohmann::json{{"id", fmt::format("add-{}", i)},
                          {"task", "numeric"},
                          {"prompt", train::addition_question(heldout[i])},
                          {"answer", std::to_string(heldout[i].sum())}}
               .dump()
        << "\n";
    if (!o) return fail("cannot write heldout.jsonl");
  }
  auto eval_image = [&](std::vector<uint8_t> image) -> Result<HeldOutScore> {
    FRUGAL_ASSIGN_OR_RETURN(auto e, engine_on(std::move(image), 1));
    return evaluate(*e, heldout);
  };
  auto eval_file = [&](const std::string& p) { return evaluate_file(p, 1, heldout); };
  auto report = [&](const char* what, const HeldOutScore& s) {
    std::fprintf(stderr, "%-26s held-out accuracy %5.1f %%  reasoned %5.1f %%  length %.1f\n", what,
                 100 * s.accuracy, 100 * s.reasoned, s.mean_tokens);
    return nlohmann::json{
        {"accuracy", s.accuracy}, {"reasoned", s.reasoned}, {"mean_tokens", s.mean_tokens}};
  };

  // Stage 1.
  std::ofstream pcsv(dir / "pretrain.csv", std::ios::trunc);
  pcsv << "model,step,loss,lr,seconds\n";
  for (auto [init, out, label] :
       {std::tuple{"teacher-init.gguf", "teacher-base.gguf", "teacher"},
        std::tuple{"student-init.gguf", "student-base.gguf", "student"}}) {
    auto s = pretrain(f, **tok, path(init), path(out), label, pcsv);
    if (!s.ok()) return fail(s.error().message);
    summary["pretrain"][label]["seconds"] = *s;
    auto h = eval_file(path(out));
    if (!h.ok()) return fail(h.error().message);
    summary["pretrain"][label]["heldout"] = report(out, *h);
  }

  // Stage 2.
  const auto t_grpo = Clock::now();
  train::TrainerOptions to;
  to.group_size = f.grpo_group;
  to.max_completion_tokens = kMaxReplyTokens;
  to.temperature = 1.0f;
  to.learning_rate = f.grpo_lr;
  to.adam_beta2 = 0.99;
  to.loss.beta = f.grpo_beta;
  to.seed = f.seed;
  to.n_threads = 1;  // a model this small decodes fastest on one thread
  to.bf16 = f.bf16;
  auto grpo = train::GrpoTrainer::create(path("teacher-base.gguf"), to);
  if (!grpo.ok()) return fail(grpo.error().message);
  summary["teacher_parameters"] = parameters((*grpo)->policy());
  const auto grpo_problems =
      train::addition_problems(f.seed + 2000, f.grpo_steps * f.grpo_prompts, f.grpo_digits,
                               f.grpo_digits, train::Split::Train);
  std::ofstream gcsv(dir / "grpo.csv", std::ios::trunc);
  gcsv << "step,mean_reward,accuracy,reasoned,mean_completion_tokens,loss,mean_kl,grad_norm,"
          "rollout_tokens_per_s,heldout_accuracy,heldout_reasoned,heldout_tokens,seconds\n";
  auto heldout_row = [&](int64_t step) -> Result<HeldOutScore> {
    FRUGAL_ASSIGN_OR_RETURN(auto image, (*grpo)->export_image(gguf::GgmlType::F32));
    FRUGAL_ASSIGN_OR_RETURN(HeldOutScore h, eval_image(std::move(image)));
    std::fprintf(stderr, "grpo step %3lld  held-out accuracy %5.1f %%  reasoned %5.1f %%\n",
                 static_cast<long long>(step), 100 * h.accuracy, 100 * h.reasoned);
    return h;
  };
  {
    auto h0 = heldout_row(0);
    if (!h0.ok()) return fail(h0.error().message);
    gcsv << fmt::format("0,,,,,,,,,{:.6g},{:.6g},{:.6g},0\n", h0->accuracy, h0->reasoned,
                        h0->mean_tokens);
  }
  for (int s = 0; s < f.grpo_steps; ++s) {
    std::vector<std::vector<int32_t>> prompts;
    std::vector<AdditionProblem> batch;
    for (int i = 0; i < f.grpo_prompts; ++i) {
      const AdditionProblem& p =
          grpo_problems[static_cast<size_t>(s * f.grpo_prompts + i) % grpo_problems.size()];
      auto ids = prompt_ids(**tok, p);
      if (!ids.ok()) return fail(ids.error().message);
      prompts.push_back(std::move(*ids));
      batch.push_back(p);
    }
    double correct = 0, reasoned = 0, n = 0;
    const auto reward = [&](size_t i, const runtime::GenerationResult& r) {
      const train::Reward rw = score(r.text, batch[i]);
      correct += rw.accuracy == 1.0;
      reasoned += train::reply_style(r.text, batch[i]) == ReplyStyle::Reasoned;
      n += 1;
      return rw.total;
    };
    auto st = (*grpo)->step(prompts, reward);
    if (!st.ok()) return fail(st.error().message);
    const double tps = st->rollout_s > 0 ? st->mean_completion_tokens * n / st->rollout_s : 0;
    std::string held = ",,";
    if ((s + 1) % f.eval_every == 0 || s + 1 == f.grpo_steps) {
      auto h = heldout_row(s + 1);
      if (!h.ok()) return fail(h.error().message);
      held = fmt::format("{:.6g},{:.6g},{:.6g}", h->accuracy, h->reasoned, h->mean_tokens);
    }
    const double el = seconds_since(t_grpo);
    gcsv << fmt::format("{},{:.6g},{:.6g},{:.6g},{:.6g},{:.6g},{:.6g},{:.6g},{:.6g},{},{:.2f}\n",
                        st->step, st->mean_reward, correct / n, reasoned / n,
                        st->mean_completion_tokens, st->loss, st->mean_kl, st->grad_norm, tps, held,
                        el);
    gcsv.flush();
    std::fprintf(stderr,
                 "grpo step %d/%d  reward %.3f  accuracy %5.1f %%  reasoned %5.1f %%  length "
                 "%.1f  %.0f tok/s  ETA %s\n",
                 s + 1, f.grpo_steps, st->mean_reward, 100 * correct / n, 100 * reasoned / n,
                 st->mean_completion_tokens, tps,
                 mm_ss(el / (s + 1) * (f.grpo_steps - s - 1)).c_str());
  }
  {
    auto image = (*grpo)->export_image(gguf::GgmlType::F32);
    if (!image.ok()) return fail(image.error().message);
    if (auto st = write_file(path("teacher.gguf"), *image); !st.ok())
      return fail(st.error().message);
  }
  summary["grpo"]["seconds"] = seconds_since(t_grpo);
  auto teacher_score = eval_file(path("teacher.gguf"));
  if (!teacher_score.ok()) return fail(teacher_score.error().message);
  summary["grpo"]["heldout"] = report("teacher.gguf", *teacher_score);

  // Stage 3: rejection sampling from the teacher, then SFT of the student.
  const auto t_distill = Clock::now();
  std::vector<train::SftExample> traces;
  {
    runtime::EngineOptions o;
    o.model_path = path("teacher.gguf");
    o.n_threads = 1;
    o.n_ctx = 160;
    auto teacher = runtime::Engine::load(o);
    if (!teacher.ok()) return fail(teacher.error().message);
    runtime::Session session(**teacher);
    const auto ps = train::addition_problems(f.seed + 3000, f.distill_problems, f.grpo_digits,
                                             f.grpo_digits, train::Split::Train);
    int64_t sampled = 0;
    for (size_t i = 0; i < ps.size(); ++i) {
      for (int k = 0; k < f.distill_samples; ++k) {
        runtime::GenerateRequest req;
        auto ids = prompt_ids(**teacher, ps[i]);
        if (!ids.ok()) return fail(ids.error().message);
        req.prompt = *ids;
        req.max_tokens = kMaxReplyTokens;
        req.sampling.temperature = 1.0f;
        req.sampling.top_p = 1.0f;
        req.sampling.seed = f.seed * 1000003 + i * 16 + static_cast<uint64_t>(k);
        auto r = session.generate(req, nullptr);
        if (!r.ok()) return fail(r.error().message);
        ++sampled;
        if (score(r->text, ps[i]).accuracy != 1.0 || r->end_token < 0) continue;
        train::SftExample ex;
        ex.tokens = *ids;
        ex.n_prompt = static_cast<int32_t>(ids->size());
        ex.tokens.insert(ex.tokens.end(), r->tokens.begin(), r->tokens.end());
        ex.tokens.push_back(r->end_token);
        traces.push_back(std::move(ex));
      }
    }
    std::fprintf(stderr, "distill: kept %zu of %lld teacher replies (correct ones only)\n",
                 traces.size(), static_cast<long long>(sampled));
    summary["distill"]["sampled"] = sampled;
    summary["distill"]["kept"] = traces.size();
  }
  if (traces.empty()) return fail("distill: the teacher answered no problem correctly");
  {
    train::SftOptions o;
    o.learning_rate = f.distill_lr;
    o.bf16 = f.bf16;
    o.total_steps = f.distill_steps;
    o.warmup_steps = std::min(20, f.distill_steps / 10);
    auto student = train::SftTrainer::create(path("student-base.gguf"), o);
    if (!student.ok()) return fail(student.error().message);
    summary["student_parameters"] = parameters((*student)->policy());
    std::ofstream dcsv(dir / "distill.csv", std::ios::trunc);
    dcsv << "step,loss,lr,seconds\n";
    std::mt19937_64 rng(f.seed + 4000);
    std::uniform_int_distribution<size_t> pick(0, traces.size() - 1);
    for (int s = 0; s < f.distill_steps; ++s) {
      std::vector<train::SftExample> batch;
      for (int i = 0; i < f.pretrain_batch; ++i) batch.push_back(traces[pick(rng)]);
      const double lr = (*student)->current_learning_rate();
      auto loss = (*student)->step(batch);
      if (!loss.ok()) return fail(loss.error().message);
      dcsv << fmt::format("{},{:.6g},{:.6g},{:.2f}\n", s + 1, *loss, lr, seconds_since(t_distill));
      if ((s + 1) % 50 == 0)
        std::fprintf(stderr, "distill step %d/%d  loss %.4f\n", s + 1, f.distill_steps, *loss);
    }
    auto image = (*student)->export_image(gguf::GgmlType::F32);
    if (!image.ok()) return fail(image.error().message);
    if (auto st = write_file(path("student.gguf"), *image); !st.ok())
      return fail(st.error().message);
  }
  summary["distill"]["seconds"] = seconds_since(t_distill);
  auto student_score = eval_file(path("student.gguf"));
  if (!student_score.ok()) return fail(student_score.error().message);
  summary["distill"]["heldout"] = report("student.gguf", *student_score);
  summary["seconds"] = seconds_since(t_all);
  {
    std::ofstream o(dir / "summary.json", std::ios::trunc);
    o << summary.dump(2) << "\n";
  }
  std::fprintf(stderr, "done in %s: %s\n", mm_ss(seconds_since(t_all)).c_str(),
               (dir / "summary.json").string().c_str());
  return 0;
}

}  // namespace frugal::train_cli
