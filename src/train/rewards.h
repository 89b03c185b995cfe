// Rewards for GRPO, checked by rules (DeepSeek-R1 §2.2.2: no neural reward
// model): they score a sampled completion with the same checkers `frugal eval`
// grades with (src/eval/checkers.h), so a model is trained on exactly what it
// is evaluated on.
//
// A completion is the raw text the policy generated after the prompt. Its
// reasoning (inside <think>…</think>) and its answer (after </think>) are
// split by chat::ReasoningSplitter; the answer is read from the content only,
// never from the reasoning.
//
//   accuracy  TinyZero's levels on the content: 1.0 correct, 0.1 when only
//             the format is right (a \boxed{} answer), 0 otherwise.
//   format    R1-Zero's template: the reasoning must be closed by </think>,
//             with text on both sides. A completion that never closes its
//             reasoning has no answer, so it earns 0 whatever it contains.
//   language  (optional, R1 §2.3.2) the share of the reasoning's letters that
//             are in the prompt's main script, times `language_weight`.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "eval/checkers.h"

namespace frugal::train {

struct RewardProblem {
  enum class Kind { Numeric, Countdown };
  Kind kind = Kind::Numeric;
  eval::Number expected;         // Numeric
  std::vector<int64_t> numbers;  // Countdown: the numbers to use, each once
  int64_t target = 0;            // Countdown
};

struct RewardOptions {
  eval::RewardLevels levels;
  bool require_think = true;       // no closed <think> block: reward 0
  bool prompt_opens_think = true;  // the prompt ends with "<think>" (R1 templates)
  double language_weight = 0;      // 0: no language-consistency term
  std::string_view prompt;         // for the language term: the question's text
};

struct Reward {
  double total = 0;
  double accuracy = 0;  // the level earned by the answer (gated by the format)
  double language = 0;  // the share in [0, 1] (before the weight)
  bool think_closed = false;
  eval::Score score;  // what the checker saw in the content
};

Reward score_completion(std::string_view completion, const RewardProblem& problem,
                        const RewardOptions& opt);

// Writing systems the language term tells apart. Digits, punctuation,
// symbols and spaces belong to none and are not counted.
// Han and Kana count as one (Japanese writes both; the term is about scripts,
// not languages, so Chinese reasoning for a Japanese prompt is not caught).
enum class Script {
  None,
  Latin,
  Cyrillic,
  Greek,
  Arabic,
  Hebrew,
  Devanagari,
  Thai,
  Cjk,
  Hangul,
  Other
};
Script script_of(char32_t cp);
// The script most letters of `text` are written in (None when it has none).
Script main_script(std::string_view text);
// Share of the letters of `text` written in `script` (1 when `text` has no
// letters: nothing in it is in another language).
double script_share(std::string_view text, Script script);

}  // namespace frugal::train
