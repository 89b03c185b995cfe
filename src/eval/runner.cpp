#include "eval/runner.h"

#include "chat/reasoning_splitter.h"

namespace frugal::eval {

int64_t count_reasoning_tokens(const tokenizer::Tokenizer& tok, std::span<const int32_t> tokens,
                               bool starts_in_reasoning) {
  // Everything up to the token after which the block is closed. Tags split
  // across tokens ("<", "think", ">") are decided by the splitter, so the
  // tokens of the opening tag count even though the block opens only at ">".
  chat::ReasoningSplitter splitter(starts_in_reasoning);
  bool opened = splitter.in_reasoning();
  for (size_t i = 0; i < tokens.size(); ++i) {
    splitter.push(tok.token_to_piece(tokens[i]));
    if (splitter.in_reasoning()) {
      opened = true;
    } else if (opened) {
      return static_cast<int64_t>(i + 1);
    }
  }
  return opened ? static_cast<int64_t>(tokens.size()) : 0;
}

Result<std::vector<Graded>> run_eval(const runtime::Engine& engine,
                                     std::span<const Problem> problems, const RunOptions& opt,
                                     const ProgressFn& progress) {
  FRUGAL_TRY(opt.sampling.validate());
  if (opt.max_tokens < -1) return make_error("max_tokens must be >= -1, got {}", opt.max_tokens);
  const bool opens = engine.chat_template().prompt_opens_reasoning();
  // One session for all problems: the shared prefix (system prompt, template
  // header) is prefilled once.
  runtime::Session session(engine);
  std::vector<Graded> out;
  out.reserve(problems.size());
  for (size_t i = 0; i < problems.size(); ++i) {
    if (opt.stop != nullptr && opt.stop->load()) break;
    const Problem& p = problems[i];
    const chat::Message msg{"user", p.prompt};
    FRUGAL_ASSIGN_OR_RETURN(std::vector<int32_t> prompt,
                            engine.chat_prompt(std::span<const chat::Message>(&msg, 1)));
    runtime::GenerateRequest req;
    req.prompt = std::move(prompt);
    req.sampling = opt.sampling;
    req.sampling.seed = opt.sampling.seed + i;
    req.max_tokens = opt.max_tokens;
    FRUGAL_ASSIGN_OR_RETURN(runtime::GenerationResult r, session.generate(req, nullptr));
    Completion c;
    c.id = p.id;
    c.text = std::move(r.text);
    c.starts_in_reasoning = opens;
    c.prompt_tokens = r.stats.n_prompt;
    c.completion_tokens = r.stats.n_generated;
    c.reasoning_tokens = count_reasoning_tokens(engine.tokenizer(), r.tokens, opens);
    c.finish_reason = std::string(runtime::finish_reason_name(r.finish));
    c.decode_s = r.stats.decode_s;
    c.decode_tokens = std::max<int64_t>(0, r.stats.n_generated - 1);
    out.push_back(grade(p, std::move(c), opt.score));
    if (progress) progress(i, out.back());
  }
  return out;
}

}  // namespace frugal::eval
