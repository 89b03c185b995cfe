#include "train/rewards.h"

#include <utf8proc.h>

#include <array>

#include "chat/reasoning_splitter.h"

namespace frugal::train {
namespace {

bool is_letter(char32_t cp) {
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(cp))) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
      return true;
    default:
      return false;
  }
}

// Counts letters per script; invalid UTF-8 bytes are skipped one at a time.
std::array<int64_t, 12> count_scripts(std::string_view text) {
  std::array<int64_t, 12> n{};
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(text.data());
  utf8proc_ssize_t left = static_cast<utf8proc_ssize_t>(text.size());
  while (left > 0) {
    utf8proc_int32_t cp = 0;
    utf8proc_ssize_t len = utf8proc_iterate(p, left, &cp);
    if (len <= 0) {
      len = 1;
    } else if (is_letter(static_cast<char32_t>(cp))) {
      ++n[static_cast<size_t>(script_of(static_cast<char32_t>(cp)))];
    }
    p += len;
    left -= len;
  }
  return n;
}

}  // namespace

Script script_of(char32_t c) {
  if (c < 0x80) return ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ? Script::Latin : Script::None;
  if (c <= 0x024F || (c >= 0x1E00 && c <= 0x1EFF))
    return Script::Latin;  // Latin-1 .. Extended-B, Additional
  if (c >= 0x0370 && c <= 0x03FF) return Script::Greek;
  if (c >= 0x0400 && c <= 0x052F) return Script::Cyrillic;
  if (c >= 0x0590 && c <= 0x05FF) return Script::Hebrew;
  if ((c >= 0x0600 && c <= 0x06FF) || (c >= 0x0750 && c <= 0x077F)) return Script::Arabic;
  if (c >= 0x0900 && c <= 0x097F) return Script::Devanagari;
  if (c >= 0x0E00 && c <= 0x0E7F) return Script::Thai;
  if ((c >= 0x1100 && c <= 0x11FF) || (c >= 0x3130 && c <= 0x318F) || (c >= 0xAC00 && c <= 0xD7AF))
    return Script::Hangul;
  if ((c >= 0x3040 && c <= 0x30FF) || (c >= 0x3400 && c <= 0x4DBF) ||
      (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0xF900 && c <= 0xFAFF) ||
      (c >= 0x20000 && c <= 0x3134F))
    return Script::Cjk;
  return Script::Other;
}

Script main_script(std::string_view text) {
  const auto n = count_scripts(text);
  size_t best = 0;  // Script::None
  for (size_t s = 1; s < n.size(); ++s)
    if (n[s] > n[best]) best = s;
  return static_cast<Script>(best);
}

double script_share(std::string_view text, Script script) {
  const auto n = count_scripts(text);
  int64_t total = 0;
  for (int64_t x : n) total += x;
  if (total == 0) return 1.0;
  return static_cast<double>(n[static_cast<size_t>(script)]) / static_cast<double>(total);
}

Reward score_completion(std::string_view completion, const RewardProblem& problem,
                        const RewardOptions& opt) {
  chat::ReasoningSplitter split(opt.prompt_opens_think);
  chat::ReasoningDelta d = split.push(completion);
  const bool closed = !split.in_reasoning();
  const chat::ReasoningDelta tail = split.finish();
  d.reasoning += tail.reasoning;
  d.content += tail.content;

  Reward r;
  // Closed means the text left the <think> block: it was opened (by the prompt
  // or the completion) and there is reasoning before the close.
  r.think_closed = closed && !d.reasoning.empty();
  if (problem.kind == RewardProblem::Kind::Countdown) {
    r.score = eval::score_countdown(d.content, problem.numbers, problem.target);
  } else {
    r.score = eval::score_numeric(d.content, problem.expected);
  }
  if (r.think_closed || !opt.require_think) r.accuracy = eval::reward(r.score, opt.levels);
  r.total = r.accuracy;
  if (opt.language_weight != 0) {
    const Script want = main_script(opt.prompt);
    r.language = want == Script::None ? 1.0 : script_share(d.reasoning, want);
    r.total += opt.language_weight * r.language;
  }
  return r;
}

}  // namespace frugal::train
