// `frugal bench MODEL`: prefill and decode throughput, in the spirit of
// llama-bench, so figures can be put side by side with llama.cpp's
// (bench/side_by_side.py). It drives model::Model::forward and a KvCache
// directly: no tokenizer, sampler or chat template is timed.
//
// Tests per (threads, depth):
//   pp<P>[@d<D>]  P random valid tokens in one forward call, after D cached
//                 positions (D = 0: from an empty cache); tokens/s = P / time.
//   tg<N>[@d<D>]  N forward calls of one token each after D cached positions;
//                 tokens/s = N / time.
// The cache is prefilled to each depth once (untimed); a repetition rewinds
// n_past to D, which is valid because forward() overwrites positions >= n_past.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <random>
#include <sstream>
#include <thread>

#include "cli/commands.h"
#include "common/thread_pool.h"
#include "gguf/gguf_file.h"
#include "kernels/cpu/dispatch.h"
#include "model/model.h"

namespace frugal::cli {

namespace {

struct BenchResult {
  int threads = 0;
  std::string test;  // "pp512", "tg128@d4096"
  int64_t n_prompt = 0;
  int64_t n_gen = 0;
  int64_t depth = 0;
  std::vector<double> samples_ts;  // tokens/s of each repetition
  double mean() const {
    double s = 0;
    for (double x : samples_ts) s += x;
    return samples_ts.empty() ? 0 : s / samples_ts.size();
  }
  double stddev() const {  // sample standard deviation, as llama-bench reports
    if (samples_ts.size() < 2) return 0;
    const double m = mean();
    double s = 0;
    for (double x : samples_ts) s += (x - m) * (x - m);
    return std::sqrt(s / (samples_ts.size() - 1));
  }
};

struct ModelFacts {
  std::string name;  // file name
  uint64_t n_bytes = 0;
  uint64_t n_params = 0;
  std::string type;
};

// general.file_type numbering (a fact of llama.cpp's llama_ftype enum).
std::string file_type_name(uint64_t ft) {
  static const std::map<uint64_t, const char*> names = {
      {0, "F32"},     {1, "F16"},     {2, "Q4_0"},    {3, "Q4_1"},    {7, "Q8_0"},
      {8, "Q5_0"},    {9, "Q5_1"},    {10, "Q2_K"},   {11, "Q3_K_S"}, {12, "Q3_K_M"},
      {13, "Q3_K_L"}, {14, "Q4_K_S"}, {15, "Q4_K_M"}, {16, "Q5_K_S"}, {17, "Q5_K_M"},
      {18, "Q6_K"},   {32, "BF16"}};
  auto it = names.find(ft);
  return it == names.end() ? "" : it->second;
}

ModelFacts model_facts(const gguf::File& file, const std::string& path) {
  ModelFacts m;
  m.name = std::filesystem::path(path).filename().string();
  std::map<std::string, uint64_t> bytes_by_type;
  for (const auto& t : file.tensors()) {
    m.n_bytes += t.n_bytes;
    m.n_params += t.n_elements;
    bytes_by_type[std::string(gguf::type_name(t.type))] += t.n_bytes;
  }
  if (auto ft = file.get_uint("general.file_type")) m.type = file_type_name(*ft);
  if (m.type.empty()) {  // no (known) file_type: the type holding the most bytes
    uint64_t best = 0;
    for (const auto& [name, b] : bytes_by_type)
      if (b > best) best = b, m.type = name;
  }
  return m;
}

// "512" or "1,2,4": a list of integers >= min_value; nullopt-like empty on error.
Result<std::vector<int64_t>> parse_list(const std::string& flag, const std::string& text,
                                        int64_t min_value, bool allow_list) {
  std::vector<int64_t> out;
  std::stringstream ss(text);
  std::string item;
  bool any = false;
  while (std::getline(ss, item, ',')) {
    any = true;
    size_t used = 0;
    int64_t v = 0;
    try {
      v = std::stoll(item, &used);
    } catch (...) {
      used = 0;
    }
    if (item.empty() || used != item.size() || v < min_value || v > (int64_t{1} << 24))
      return make_error("bench: {} '{}' is not an integer in {}..{}", flag, item, min_value,
                        int64_t{1} << 24);
    out.push_back(v);
  }
  if (!any || text.empty() || text.back() == ',')
    return make_error("bench: {} '{}' is empty or has an empty item", flag, text);
  if (!allow_list && out.size() != 1)
    return make_error("bench: {} takes one value, got '{}'", flag, text);
  return out;
}

std::string json_escape(const std::string& s) {
  std::string o;
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      o += '\\';
      o += char(c);
    } else if (c < 0x20) {
      o += fmt::format("\\u{:04x}", c);
    } else {
      o += char(c);
    }
  }
  return o;
}

void print_results(const ModelFacts& m, const std::vector<BenchResult>& rs,
                   const std::string& fmt_name, int reps, model::KvType kv_type) {
  const double gib = m.n_bytes / (1024.0 * 1024.0 * 1024.0);
  const double params_b = m.n_params / 1e9;
  const std::string isa = kernels::active_kernels().isa;
  const char* kv = model::kv_type_name(kv_type);
  if (fmt_name == "json") {
    std::printf("[\n");
    for (size_t i = 0; i < rs.size(); ++i) {
      const auto& r = rs[i];
      std::string samples;
      for (size_t j = 0; j < r.samples_ts.size(); ++j)
        samples += fmt::format("{}{:.6g}", j ? ", " : "", r.samples_ts[j]);
      std::printf(
          "  {\"model\": \"%s\", \"size_bytes\": %llu, \"size_gib\": %.6f, \"n_params\": %llu, "
          "\"type\": \"%s\", \"kernels\": \"%s\", \"kv_type\": \"%s\", \"threads\": %d, \"test\": "
          "\"%s\", \"n_prompt\": "
          "%lld, \"n_gen\": %lld, \"n_depth\": %lld, \"reps\": %d, \"samples_ts\": [%s], "
          "\"avg_ts\": %.6g, \"stddev_ts\": %.6g}%s\n",
          json_escape(m.name).c_str(), static_cast<unsigned long long>(m.n_bytes), gib,
          static_cast<unsigned long long>(m.n_params), json_escape(m.type).c_str(), isa.c_str(), kv,
          r.threads, r.test.c_str(), static_cast<long long>(r.n_prompt),
          static_cast<long long>(r.n_gen), static_cast<long long>(r.depth), reps, samples.c_str(),
          r.mean(), r.stddev(), i + 1 < rs.size() ? "," : "");
    }
    std::printf("]\n");
  } else if (fmt_name == "csv") {
    std::printf(
        "model,size_bytes,n_params,type,kernels,kv_type,threads,test,n_prompt,n_gen,n_depth,avg_"
        "ts,stddev_ts\n");
    for (const auto& r : rs)
      std::printf("\"%s\",%llu,%llu,%s,%s,%s,%d,%s,%lld,%lld,%lld,%.4f,%.4f\n", m.name.c_str(),
                  static_cast<unsigned long long>(m.n_bytes),
                  static_cast<unsigned long long>(m.n_params), m.type.c_str(), isa.c_str(), kv,
                  r.threads, r.test.c_str(), static_cast<long long>(r.n_prompt),
                  static_cast<long long>(r.n_gen), static_cast<long long>(r.depth), r.mean(),
                  r.stddev());
  } else {
    std::printf("| model | size | params | type | kernels | kv | threads | test | t/s |\n");
    std::printf("| --- | ---: | ---: | --- | --- | --- | ---: | ---: | ---: |\n");
    for (const auto& r : rs)
      std::printf("| %s | %.2f GiB | %.2f B | %s | %s | %s | %d | %s | %.2f ± %.2f |\n",
                  m.name.c_str(), gib, params_b, m.type.c_str(), isa.c_str(), kv, r.threads,
                  r.test.c_str(), r.mean(), r.stddev());
  }
  std::fflush(stdout);
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Runs `tokens` through the model in chunks of at most `chunk` tokens.
Status forward_chunked(const model::Model& m, std::span<const int32_t> tokens,
                       model::KvCache& cache, std::span<float> logits, ThreadPool& pool,
                       size_t chunk) {
  for (size_t i = 0; i < tokens.size(); i += chunk) {
    const size_t n = std::min(chunk, tokens.size() - i);
    FRUGAL_TRY(m.forward(tokens.subspan(i, n), cache, logits, false, pool));
  }
  return {};
}

}  // namespace

Action add_bench_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("bench",
                                 "Measure prefill (pp) and decode (tg) tokens/s, like llama-bench");
  struct Opts {
    std::string path;
    std::string p = "512", n = "128", r = "5", t, d = "0", o = "md", kv = "f16";
    bool no_warmup = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("MODEL", o->path, "Path to a .gguf model")->required();
  cmd->add_option("-p,--n-prompt", o->p, "Prompt tokens of the pp test, 0 to skip (default 512)");
  cmd->add_option("-n,--n-gen", o->n, "Generated tokens of the tg test, 0 to skip (default 128)");
  cmd->add_option("-r,--repetitions", o->r, "Timed repetitions of each test (default 5)");
  cmd->add_option("-t,--threads", o->t,
                  "Thread counts, comma-separated (default: hardware threads)");
  cmd->add_option("-d,--n-depth", o->d,
                  "Cached positions before each test, comma-separated (default 0)");
  cmd->add_option("-o,--output", o->o, "Output format: md, csv or json (default md)");
  cmd->add_option("--kv-type", o->kv,
                  "KV cache element type: f16 (default, as frugal run and llama-bench) or f32");
  cmd->add_flag("--no-warmup", o->no_warmup,
                "Skip the untimed run before each test (when a driver warms up itself)");
  cmd->footer(
      "Each test first runs once untimed (warm-up, unless --no-warmup). pp: one forward call of P "
      "random tokens;\n"
      "tg: N forward calls of one token. The KV cache holds max(depth) + max(P, N) positions.");
  return [o]() -> int {
    auto p = parse_list("-p", o->p, 0, false);
    if (!p.ok()) return fail(p.error().message);
    auto n = parse_list("-n", o->n, 0, false);
    if (!n.ok()) return fail(n.error().message);
    auto r = parse_list("-r", o->r, 1, false);
    if (!r.ok()) return fail(r.error().message);
    const int hw = std::max(1u, std::thread::hardware_concurrency());
    auto t = parse_list("-t", o->t.empty() ? std::to_string(hw) : o->t, 1, true);
    if (!t.ok()) return fail(t.error().message);
    if (std::any_of(t->begin(), t->end(), [](int64_t x) { return x > 1024; }))
      return fail(fmt::format("bench: -t '{}' asks for more than 1024 threads", o->t));
    auto d = parse_list("-d", o->d, 0, true);
    if (!d.ok()) return fail(d.error().message);
    if (o->o != "md" && o->o != "csv" && o->o != "json")
      return fail(fmt::format("bench: -o '{}' is not one of md, csv, json", o->o));
    const int64_t n_prompt = (*p)[0], n_gen = (*n)[0];
    const int reps = static_cast<int>((*r)[0]);
    if (n_prompt == 0 && n_gen == 0) return fail("bench: -p and -n are both 0: nothing to measure");
    auto kv_type = model::parse_kv_type(o->kv);
    if (!kv_type.ok()) return fail("bench: " + kv_type.error().message);

    auto file = gguf::File::open(o->path);
    if (!file.ok()) return fail(file.error().message);
    auto mdl = model::load_model(**file);
    if (!mdl.ok()) return fail(mdl.error().message);
    const model::Model& model = **mdl;
    const model::HParams& hp = model.hparams();
    const ModelFacts facts = model_facts(**file, o->path);

    std::vector<int64_t> depths = *d;
    std::sort(depths.begin(), depths.end());
    depths.erase(std::unique(depths.begin(), depths.end()), depths.end());
    const int64_t capacity = depths.back() + std::max(n_prompt, n_gen);
    // K and V, every layer: refuse a cache larger than physical memory (it
    // would be committed as it fills and the process killed, not an error).
    const double cache_bytes =
        static_cast<double>(capacity) *
        static_cast<double>(model::KvCache::bytes_per_position(hp, *kv_type));
    const double phys = static_cast<double>(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGE_SIZE);
    if (phys > 0 && cache_bytes > phys)
      return fail(
          fmt::format("bench: KV cache for {} positions would need {:.1f} GiB, more than "
                      "this machine's {:.1f} GiB",
                      capacity, cache_bytes / (1 << 30), phys / (1 << 30)));
    model::KvCache cache(hp, capacity, *kv_type);
    if (cache.capacity() != capacity)
      return fail(fmt::format("bench: cannot allocate a KV cache of {} positions", capacity));

    // Random valid token ids, fixed seed: the same work on every run.
    std::mt19937 rng(1234);
    std::uniform_int_distribution<int32_t> dist(0, static_cast<int32_t>(hp.n_vocab - 1));
    std::vector<int32_t> fill(depths.back());               // [max depth]
    std::vector<int32_t> prompt(n_prompt);                  // [P]
    std::vector<int32_t> gen(std::max<int64_t>(n_gen, 1));  // [N]
    for (auto* v : {&fill, &prompt, &gen})
      for (auto& x : *v) x = dist(rng);
    std::vector<float> logits(hp.n_vocab);  // [V]
    const size_t chunk = 512;

    std::vector<BenchResult> results;
    for (int64_t threads : *t) {
      ThreadPool pool(static_cast<int>(threads));
      int64_t filled = 0;  // positions of `fill` whose K/V are in the cache
      for (int64_t depth : depths) {
        if (filled < depth) {  // untimed prefill, extending the previous depth's
          cache.n_past = filled;
          auto st = forward_chunked(model, std::span(fill).subspan(filled, depth - filled), cache,
                                    logits, pool, chunk);
          if (!st.ok()) return fail(st.error().message);
          filled = depth;
        }
        const std::string at = depth > 0 ? fmt::format("@d{}", depth) : "";
        auto run_pp = [&]() -> Result<double> {
          cache.n_past = depth;
          const auto t0 = std::chrono::steady_clock::now();
          FRUGAL_TRY(model.forward(prompt, cache, logits, false, pool));
          return seconds_since(t0);
        };
        auto run_tg = [&]() -> Result<double> {
          cache.n_past = depth;
          const auto t0 = std::chrono::steady_clock::now();
          for (int64_t i = 0; i < n_gen; ++i)
            FRUGAL_TRY(model.forward(std::span(gen).subspan(i, 1), cache, logits, false, pool));
          return seconds_since(t0);
        };
        auto measure = [&](const std::string& name, int64_t np, int64_t ng,
                           const std::function<Result<double>()>& fn) -> Status {
          BenchResult res{static_cast<int>(threads), name, np, ng, depth, {}};
          if (!o->no_warmup) FRUGAL_TRY(fn());
          for (int i = 0; i < reps; ++i) {
            auto s = fn();
            if (!s.ok()) return s.error();
            res.samples_ts.push_back((np + ng) / std::max(*s, 1e-9));
          }
          results.push_back(std::move(res));
          return {};
        };
        if (n_prompt > 0) {
          auto st = measure(fmt::format("pp{}{}", n_prompt, at), n_prompt, 0, run_pp);
          if (!st.ok()) return fail(st.error().message);
        }
        if (n_gen > 0) {
          auto st = measure(fmt::format("tg{}{}", n_gen, at), 0, n_gen, run_tg);
          if (!st.ok()) return fail(st.error().message);
        }
        // Later depths extend `fill` from here; the tests wrote past it.
        cache.n_past = depth;
      }
    }
    print_results(facts, results, o->o, reps, *kv_type);
    return 0;
  };
}

}  // namespace frugal::cli
