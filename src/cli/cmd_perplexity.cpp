// `frugal perplexity MODEL FILE.txt`: perplexity on a text file by llama.cpp's
// method (runtime/perplexity.h), so the figure can be compared with
// `llama-perplexity` on the same file and context size. `--logits-out` keeps
// every scored distribution so another engine's can be compared against it
// (tools/parity_llama_cpp.py computes KL divergence and top-1 agreement).
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/memory_report.h"
#include "runtime/engine.h"
#include "runtime/perplexity.h"

namespace frugal::cli {

namespace {

struct PplFlags {
  std::string model;
  std::string text;
  std::string logits_out;
  int threads = 0;
  int64_t ctx = 512;
  int64_t chunks = -1;
  int64_t batch = 512;
  std::string kv_type = "f16";
  bool json = false;
};

constexpr uint64_t kMaxTextBytes = uint64_t{1} << 30;

Result<std::string> read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return make_error("cannot open {}", path);
  const auto size = static_cast<uint64_t>(in.tellg());
  if (size > kMaxTextBytes) return make_error("{} is larger than 1 GiB", path);
  std::string s(size, '\0');
  in.seekg(0);
  if (!in.read(s.data(), static_cast<std::streamsize>(size)))
    return make_error("cannot read {}", path);
  return s;
}

// Binary dump of the scored distributions (little-endian), read by
// tools/parity_llama_cpp.py:
//   "FRGLOGv1" | u32 n_vocab | u32 n_ctx | u32 n_chunks | u32 first
//   per chunk: i32 tokens[n_ctx] (as evaluated), then f32 logits[V] for each
//   scored position first .. n_ctx-2.
class LogitsWriter {
 public:
  Status open(const std::string& path, int64_t V, int64_t n_ctx, int64_t n_chunks) {
    out_.open(path, std::ios::binary | std::ios::trunc);
    if (!out_) return make_error("cannot create {}", path);
    out_.write("FRGLOGv1", 8);
    for (int64_t v : {V, n_ctx, n_chunks, n_ctx / 2}) put_u32(static_cast<uint32_t>(v));
    return ok_or_error();
  }
  Status write(int64_t chunk, std::span<const int32_t> tokens, std::span<const float> logits) {
    if (chunk != last_chunk_) {
      out_.write(reinterpret_cast<const char*>(tokens.data()),
                 static_cast<std::streamsize>(tokens.size_bytes()));
      last_chunk_ = chunk;
    }
    out_.write(reinterpret_cast<const char*>(logits.data()),
               static_cast<std::streamsize>(logits.size_bytes()));
    return ok_or_error();
  }

 private:
  void put_u32(uint32_t v) { out_.write(reinterpret_cast<const char*>(&v), 4); }
  Status ok_or_error() {
    if (!out_) return make_error("writing the logits file failed (disk full?)");
    return {};
  }
  std::ofstream out_;
  int64_t last_chunk_ = -1;
};

}  // namespace

Action add_perplexity_command(CLI::App& app) {
  auto f = std::make_shared<PplFlags>();
  auto* cmd = app.add_subcommand(
      "perplexity",
      "Perplexity of a model on a text file (llama.cpp's method: chunks of -c tokens, the second "
      "half of each scored)");
  cmd->add_option("MODEL", f->model, "Path to a .gguf model file")->required();
  cmd->add_option("FILE", f->text, "UTF-8 text file")->required();
  cmd->add_option("-c,--ctx-size", f->ctx, "Chunk length in tokens (default 512)");
  cmd->add_option("--chunks", f->chunks, "Evaluate only the first N chunks (default: all)");
  cmd->add_option("-b,--batch-size", f->batch, "Tokens per forward pass (default 512)");
  cmd->add_option("-t,--threads", f->threads, "Threads (default: all hardware threads)");
  cmd->add_option("--kv-type", f->kv_type,
                  "KV cache element type: f16 (default: half the memory, and the faster decode at "
                  "depth measured on AVX2) or f32 (the parity tests' arithmetic)");
  cmd->add_flag("--json", f->json, "Print the result as JSON on stdout");
  cmd->add_option("--logits-out", f->logits_out,
                  "Write every scored next-token distribution (float32 logits) to this file, "
                  "for comparison with another engine (tools/parity_llama_cpp.py)");
  return [f]() -> int {
    auto text = read_text(f->text);
    if (!text.ok()) return fail(text.error().message);
    runtime::EngineOptions eo;
    eo.model_path = f->model;
    eo.n_threads = f->threads;
    eo.n_ctx = f->ctx;
    auto kv = model::parse_kv_type(f->kv_type);
    if (!kv.ok()) return fail("--kv-type: " + kv.error().message);
    eo.kv_type = *kv;
    const ProcessMemory before_load = process_memory();
    auto engine = runtime::Engine::load(eo);
    if (!engine.ok()) return fail(engine.error().message);
    const runtime::Engine& e = **engine;

    // As llama.cpp: plain text (no special-token parsing), BOS first if the
    // model adds one.
    std::vector<int32_t> tokens = e.tokenizer().encode(*text, false);
    const auto& v = e.tokenizer().vocab();
    if (v.add_bos && v.bos >= 0) tokens.insert(tokens.begin(), v.bos);

    runtime::PerplexityOptions po;
    po.n_ctx = f->ctx;
    po.n_chunks = f->chunks;
    po.n_batch = f->batch;
    const int64_t n_chunks = f->ctx > 0 ? static_cast<int64_t>(tokens.size()) / f->ctx : 0;
    const int64_t n_used = f->chunks < 0 ? n_chunks : std::min(f->chunks, n_chunks);
    std::fprintf(stderr,
                 "frugal: %zu tokens, %lld chunks of %lld, scoring the second half of each\n",
                 tokens.size(), static_cast<long long>(n_used), static_cast<long long>(f->ctx));

    LogitsWriter writer;
    runtime::LogitsSink sink;
    if (!f->logits_out.empty()) {
      if (auto st = writer.open(f->logits_out, e.model().hparams().n_vocab, f->ctx, n_used);
          !st.ok())
        return fail(st.error().message);
      sink = [&writer](int64_t c, std::span<const int32_t> toks, int64_t,
                       std::span<const float> lg) { return writer.write(c, toks, lg); };
    }
    double nll = 0;
    int64_t scored = 0;
    auto on_chunk = [&](const runtime::ChunkScore& s) {
      nll += s.nll_sum;
      scored += s.n_scored;
      std::fprintf(stderr, "[%lld]%.4f%s", static_cast<long long>(s.index + 1),
                   std::exp(nll / static_cast<double>(scored)), s.index + 1 == n_used ? "\n" : ",");
      std::fflush(stderr);
    };
    auto res = runtime::perplexity(e, tokens, po, on_chunk, sink);
    if (!res.ok()) return fail(res.error().message);
    print_memory(e, before_load);
    if (f->json) {
      nlohmann::json j = {{"ppl", res->ppl()},         {"ppl_stderr", res->ppl_stderr()},
                          {"n_tokens", res->n_tokens}, {"n_chunks", res->n_chunks},
                          {"n_ctx", f->ctx},           {"n_scored", res->n_scored},
                          {"nll_sum", res->nll_sum},   {"seconds", res->seconds}};
      std::printf("%s\n", j.dump().c_str());
    } else {
      std::printf("PPL = %.4f +/- %.4f  (%lld tokens scored in %lld chunks of %lld, %.1f s)\n",
                  res->ppl(), res->ppl_stderr(), static_cast<long long>(res->n_scored),
                  static_cast<long long>(res->n_chunks), static_cast<long long>(f->ctx),
                  res->seconds);
    }
    return 0;
  };
}

}  // namespace frugal::cli
