#include "train/grpo_trainer.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "train/export.h"

namespace frugal::train {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

uint64_t mix(uint64_t k) {  // splitmix64's finalizer
  k ^= k >> 30;
  k *= 0xbf58476d1ce4e5b9ULL;
  k ^= k >> 27;
  k *= 0x94d049bb133111ebULL;
  return k ^ (k >> 31);
}

// The seed of completion g of prompt i at step s: a function of those alone,
// so a resumed run samples what the unbroken run would have.
uint64_t rollout_seed(uint64_t seed, int64_t step, size_t i, int32_t g) {
  uint64_t h = mix(seed + 0x9e3779b97f4a7c15ULL);
  h = mix(h ^ static_cast<uint64_t>(step));
  h = mix(h ^ static_cast<uint64_t>(i));
  return mix(h ^ static_cast<uint64_t>(g));
}

Status check_options(const TrainerOptions& o) {
  if (o.group_size < 2) return make_error("train: group size must be >= 2, got {}", o.group_size);
  if (o.max_completion_tokens < 1)
    return make_error("train: max completion tokens must be >= 1, got {}", o.max_completion_tokens);
  if (!(o.temperature > 0) || !std::isfinite(o.temperature))
    return make_error("train: temperature must be > 0, got {}", o.temperature);
  if (!(o.learning_rate > 0) || !std::isfinite(o.learning_rate))
    return make_error("train: learning rate must be > 0, got {}", o.learning_rate);
  if (!(o.adam_beta1 >= 0 && o.adam_beta1 < 1) || !(o.adam_beta2 >= 0 && o.adam_beta2 < 1))
    return make_error("train: AdamW betas must be in [0, 1), got {} and {}", o.adam_beta1,
                      o.adam_beta2);
  if (!(o.adam_eps > 0)) return make_error("train: AdamW eps must be > 0, got {}", o.adam_eps);
  if (!(o.weight_decay >= 0))
    return make_error("train: weight decay must be >= 0, got {}", o.weight_decay);
  if (std::isnan(o.max_grad_norm)) return make_error("train: max grad norm is NaN");
  if (o.n_threads < 1) return make_error("train: threads must be >= 1, got {}", o.n_threads);
  if (o.updates_per_batch < 1)
    return make_error("train: updates per batch must be >= 1, got {}", o.updates_per_batch);
  return {};
}

// Writes `write(path.tmp)` then renames it over `path`: a crash leaves the
// old file or the new one, never half of one.
template <class Write>
Status write_replacing(const std::filesystem::path& path, Write write) {
  std::filesystem::path tmp = path;
  tmp += ".tmp";
  try {
    write(tmp.string());
  } catch (const std::exception& e) {
    std::error_code ec;
    std::filesystem::remove(tmp, ec);
    return make_error("checkpoint: cannot write {}: {}", path.string(), e.what());
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return make_error("checkpoint: cannot rename into {}: {}", path.string(), ec.message());
  return {};
}

}  // namespace

GrpoTrainer::~GrpoTrainer() = default;

Result<std::unique_ptr<GrpoTrainer>> GrpoTrainer::create(const std::string& model_path,
                                                         const TrainerOptions& opt) {
  FRUGAL_TRY(check_options(opt));
  std::unique_ptr<GrpoTrainer> t(new GrpoTrainer());
  t->opt_ = opt;
  FRUGAL_ASSIGN_OR_RETURN(t->source_, gguf::File::open(model_path));
  FRUGAL_ASSIGN_OR_RETURN(t->policy_, Policy::from_gguf(*t->source_));
  if (opt.loss.beta != 0) {
    FRUGAL_ASSIGN_OR_RETURN(t->reference_, Policy::from_gguf(*t->source_));
    for (auto& p : t->reference_->parameters()) p.requires_grad_(false);
    t->reference_->eval();
  }
  t->optimizer_ = std::make_unique<torch::optim::AdamW>(
      t->policy_->parameters(), torch::optim::AdamWOptions(opt.learning_rate)
                                    .betas({opt.adam_beta1, opt.adam_beta2})
                                    .eps(opt.adam_eps)
                                    .weight_decay(opt.weight_decay));
  return t;
}

Result<std::vector<uint8_t>> GrpoTrainer::export_image(gguf::GgmlType matrix_type) const {
  return export_gguf(*policy_, *source_, ExportOptions{matrix_type});
}

Result<std::unique_ptr<runtime::Engine>> GrpoTrainer::rollout_engine(int64_t n_ctx) const {
  FRUGAL_ASSIGN_OR_RETURN(std::vector<uint8_t> image, export_image(gguf::GgmlType::F32));
  runtime::EngineOptions eo;
  eo.model_image = std::make_shared<const std::vector<uint8_t>>(std::move(image));
  eo.n_threads = opt_.n_threads;
  eo.n_ctx = n_ctx;
  return runtime::Engine::load(eo);
}

Result<StepStats> GrpoTrainer::step(std::span<const std::vector<int32_t>> prompts,
                                    const RewardFn& reward) {
  if (prompts.empty()) return make_error("train: a step needs at least one prompt");
  const int64_t n_vocab = policy_->hparams().n_vocab;
  size_t longest = 0;
  for (size_t i = 0; i < prompts.size(); ++i) {
    if (prompts[i].empty()) return make_error("train: prompt {} is empty", i);
    for (int32_t id : prompts[i])
      if (id < 0 || id >= n_vocab)
        return make_error("train: prompt {} has token id {} outside [0, {})", i, id, n_vocab);
    longest = std::max(longest, prompts[i].size());
  }
  const int32_t G = opt_.group_size;
  const auto B = static_cast<int64_t>(prompts.size()) * G;
  StepStats st;
  st.step = steps_ + 1;

  // Rollouts: G samples per prompt from the current weights. The session
  // keeps the prompt's cache between a group's samples.
  auto t0 = Clock::now();
  const int64_t n_ctx = static_cast<int64_t>(longest) + opt_.max_completion_tokens + 1;
  FRUGAL_ASSIGN_OR_RETURN(std::unique_ptr<runtime::Engine> engine, rollout_engine(n_ctx));
  runtime::Session session(*engine);
  std::vector<std::vector<int32_t>> completions;  // sampled ids, end token included
  std::vector<double> rewards;
  completions.reserve(static_cast<size_t>(B));
  rewards.reserve(static_cast<size_t>(B));
  for (size_t i = 0; i < prompts.size(); ++i) {
    for (int32_t g = 0; g < G; ++g) {
      runtime::GenerateRequest req;
      req.prompt = prompts[i];
      req.max_tokens = opt_.max_completion_tokens;
      req.sampling.temperature = opt_.temperature;
      req.sampling.top_p = 1.0f;  // the loss scores the plain softmax
      req.sampling.seed = rollout_seed(opt_.seed, st.step, i, g);
      FRUGAL_ASSIGN_OR_RETURN(runtime::GenerationResult r, session.generate(req, nullptr));
      const double rw = reward(i, r);
      if (!std::isfinite(rw))
        return make_error("train: the reward of prompt {} completion {} is not finite", i, g);
      rewards.push_back(rw);
      std::vector<int32_t> c = std::move(r.tokens);
      if (r.end_token >= 0) c.push_back(r.end_token);  // the policy learns to stop
      completions.push_back(std::move(c));
    }
  }
  st.rollout_s = seconds_since(t0);

  // Update.
  t0 = Clock::now();
  try {
    const torch::Tensor r = torch::tensor(rewards, torch::kFloat64);  // [B]
    st.mean_reward = r.mean().item<double>();
    st.reward_std = B > 1 ? r.std().item<double>() : 0.0;
    FRUGAL_ASSIGN_OR_RETURN(torch::Tensor adv,
                            group_advantages(r, G, opt_.advantage_scale));  // [B]

    // Right-padded prompt + completion rows; mask marks the log-probs of
    // completion tokens: entry t predicts token t + 1.
    int64_t T = 0;
    double n_completion = 0;
    for (int64_t b = 0; b < B; ++b) {
      const auto& p = prompts[static_cast<size_t>(b / G)];
      const auto& c = completions[static_cast<size_t>(b)];
      T = std::max<int64_t>(T, static_cast<int64_t>(p.size() + c.size()));
      n_completion += static_cast<double>(c.size());
    }
    st.mean_completion_tokens = n_completion / static_cast<double>(B);
    T = std::max<int64_t>(T, 2);
    torch::Tensor tokens = torch::zeros({B, T}, torch::kInt64);      // [B, T]
    torch::Tensor mask = torch::zeros({B, T - 1}, torch::kFloat32);  // [B, T-1]
    auto tok = tokens.accessor<int64_t, 2>();
    auto msk = mask.accessor<float, 2>();
    for (int64_t b = 0; b < B; ++b) {
      const auto& p = prompts[static_cast<size_t>(b / G)];
      const auto& c = completions[static_cast<size_t>(b)];
      int64_t t = 0;
      for (int32_t id : p) tok[b][t++] = id;
      for (int32_t id : c) {
        msk[b][t - 1] = 1.0f;
        tok[b][t++] = id;
      }
    }

    policy_->train();
    GrpoInputs in;
    in.advantages = adv;
    in.mask = mask;
    // Each forward in its own autocast scope: leaving it drops autocast's
    // bfloat16 copies of the weights, which AdamW changes between updates.
    if (reference_) {
      torch::NoGradGuard no_grad;
      Bf16Autocast autocast(opt_.bf16);
      in.ref_logp = reference_->next_token_logprobs(tokens, opt_.temperature);  // [B, T-1]
    }
    if (opt_.updates_per_batch > 1) {
      torch::NoGradGuard no_grad;  // the weights that sampled, fixed for all updates
      Bf16Autocast autocast(opt_.bf16);
      in.old_logp = policy_->next_token_logprobs(tokens, opt_.temperature);
    }
    GrpoOptions lo = opt_.loss;
    if (lo.aggregation == LossAggregation::ConstantNorm && lo.max_completion_length == 0)
      lo.max_completion_length = opt_.max_completion_tokens;
    const double max_norm =
        opt_.max_grad_norm > 0 ? opt_.max_grad_norm : std::numeric_limits<double>::infinity();
    for (int32_t u = 0; u < opt_.updates_per_batch; ++u) {
      {
        Bf16Autocast autocast(opt_.bf16);
        in.logp = policy_->next_token_logprobs(tokens, opt_.temperature);  // [B, T-1]
      }
      FRUGAL_ASSIGN_OR_RETURN(GrpoLoss loss, grpo_loss(in, lo));
      optimizer_->zero_grad();
      loss.loss.backward();
      st.grad_norm = torch::nn::utils::clip_grad_norm_(policy_->parameters(), max_norm);
      optimizer_->step();
      st.loss = loss.loss.item<double>();
      st.mean_kl = loss.mean_kl;
      st.clip_fraction = loss.clip_fraction;
    }
  } catch (const c10::Error& e) {
    return make_error("train: libtorch failed in the update: {}", e.what_without_backtrace());
  }
  st.update_s = seconds_since(t0);
  ++steps_;
  return st;
}

Status GrpoTrainer::save_checkpoint(const std::string& dir) const {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return make_error("checkpoint: {} is not a directory", dir);
  const fs::path d(dir);
  FRUGAL_TRY(write_replacing(d / "policy.pt", [&](const std::string& p) {
    torch::serialize::OutputArchive a;
    policy_->save(a);
    a.save_to(p);
  }));
  FRUGAL_TRY(write_replacing(d / "optimizer.pt", [&](const std::string& p) {
    torch::serialize::OutputArchive a;
    optimizer_->save(a);
    a.save_to(p);
  }));
  // Last: a state.json names a complete checkpoint.
  return write_replacing(d / "state.json", [&](const std::string& p) {
    std::ofstream f(p, std::ios::binary | std::ios::trunc);
    f << nlohmann::json{{"format", 1}, {"step", steps_}, {"seed", opt_.seed}}.dump() << "\n";
    f.close();
    if (!f) throw std::runtime_error("write failed");
  });
}

Status GrpoTrainer::load_checkpoint(const std::string& dir) {
  namespace fs = std::filesystem;
  const fs::path d(dir);
  int64_t step = 0;
  {
    std::ifstream f(d / "state.json", std::ios::binary);
    if (!f) return make_error("checkpoint: {} has no state.json", dir);
    const nlohmann::json j = nlohmann::json::parse(f, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object() || !j.contains("format") || j["format"] != 1 || !j.contains("step") ||
        !j["step"].is_number_integer() || j["step"].get<int64_t>() < 0)
      return make_error("checkpoint: {}/state.json is not a frugal checkpoint state", dir);
    step = j["step"].get<int64_t>();
  }
  // A checkpoint that fails half way (a truncated optimizer.pt, another
  // model's policy.pt) must leave the trainer as it was: keep a copy.
  std::stringstream policy_backup, optimizer_backup;
  {
    torch::serialize::OutputArchive a, b;
    policy_->save(a);
    optimizer_->save(b);
    a.save_to(policy_backup);
    b.save_to(optimizer_backup);
  }
  try {
    torch::serialize::InputArchive a;
    a.load_from((d / "policy.pt").string());
    policy_->load(a);
    torch::serialize::InputArchive b;
    b.load_from((d / "optimizer.pt").string());
    optimizer_->load(b);
  } catch (const c10::Error& e) {
    torch::serialize::InputArchive a, b;
    a.load_from(policy_backup);
    b.load_from(optimizer_backup);
    policy_->load(a);
    optimizer_->load(b);
    return make_error("checkpoint: {}: cannot restore the policy or optimizer: {}", dir,
                      e.what_without_backtrace());
  }
  steps_ = step;
  return {};
}

}  // namespace frugal::train
