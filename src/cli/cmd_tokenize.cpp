// `frugal tokenize MODEL TEXT`: token ids of a text; works on vocabulary-only
// GGUF files too, since it loads only the tokenizer.
#include <cstdio>

#include "cli/commands.h"
#include "gguf/gguf_file.h"
#include "tokenizer/tokenizer.h"

namespace frugal::cli {

Action add_tokenize_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("tokenize", "Print the token ids of TEXT (vocabulary-only files work too)");
  auto path = std::make_shared<std::string>();
  auto text = std::make_shared<std::string>();
  auto special = std::make_shared<bool>(false);
  auto pieces = std::make_shared<bool>(false);
  auto bos = std::make_shared<bool>(false);
  cmd->add_option("MODEL", *path, "Path to a .gguf file")->required();
  cmd->add_option("TEXT", *text, "Text to tokenize")->required();
  cmd->add_flag("--special", *special, "Turn special-token text such as <|im_start|> into its token");
  cmd->add_flag("--pieces", *pieces, "Print each id with its text");
  cmd->add_flag("--bos", *bos, "Prepend BOS as the model would for a prompt");
  return [=]() -> int {
    auto f = gguf::File::open(*path);
    if (!f.ok()) return fail(f.error().message);
    auto tok = tokenizer::Tokenizer::from_gguf(**f);
    if (!tok.ok()) return fail(tok.error().message);
    std::vector<int32_t> ids = (*tok)->encode(*text, *special);
    const auto& v = (*tok)->vocab();
    if (*bos && v.bos >= 0) ids.insert(ids.begin(), v.bos);
    if (*pieces) {
      for (int32_t id : ids) {
        std::string p = (*tok)->token_to_piece(id, true);
        std::string shown;
        for (unsigned char c : p) shown += c == '\n' ? "\\n" : c == '\t' ? "\\t" : std::string(1, char(c));
        std::printf("%6d  '%s'\n", id, shown.c_str());
      }
    } else {
      for (size_t i = 0; i < ids.size(); ++i) std::printf("%s%d", i ? " " : "", ids[i]);
      std::printf("\n");
    }
    return 0;
  };
}

}  // namespace frugal::cli
