// `frugal quantize IN OUT TYPE`: converts a GGUF model's weight matrices to
// another tensor type, as llama.cpp's `llama-quantize` does without an
// importance matrix (ggml then quantizes with its reference row functions,
// which tensor/quant.h reproduces bit for bit). Tensor for tensor the result
// is llama-quantize's for q8_0, q4_0 and q4_k_m, and llama-quantize --pure's
// for q4_k and for any type with --pure (tests/cli_quantize_test.cpp, against
// llama-cpp-python).
//
// Which tensors change: those of two or more dimensions (trailing 1s not
// counted, as ggml_n_dims) whose name ends in "weight" and whose rows are
// whole blocks of the new type; each row is dequantized to float32 and
// quantized again. Everything else (norms, biases, matrices whose rows do not
// divide into blocks, types we cannot decode) is copied byte for byte.
// llama-quantize would move a matrix whose rows do not divide into 256-value
// K blocks to a legacy type instead; we keep it as it is (except the output
// matrix, for which llama-quantize's own rule names Q8_0). q4_0 and q4_k_m
// follow llama-quantize's mixes for those types: the output matrix in Q6_K
// (Q8_0 for rows that are not whole 256-value blocks), and for Q4_K_M some
// attn_v/ffn_down in Q6_K (the rule cmd_mkmodel.cpp also follows).
//
// The output is streamed like cmd_mkmodel.cpp's: the header is built with the
// writer's low-level helpers, then each tensor is converted in chunks of rows
// and written, so a 7B model never has its output in memory. It goes to
// OUT.tmp, is re-opened with gguf::File to validate it, and only then renamed
// to OUT; on any error the temporary file is removed.
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <thread>

#include "cli/commands.h"
#include "common/thread_pool.h"
#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"
#include "tensor/quant.h"

namespace frugal::cli {

namespace {

namespace fs = std::filesystem;
using gguf::GgmlType;

constexpr uint64_t kAlign = 32;
constexpr uint64_t kChunkBytes = uint64_t{16} << 20;  // converted rows per write

struct Target {
  const char* name;
  uint32_t file_type;  // llama_ftype numbering
  GgmlType base;
  bool output_rule;  // llama-quantize's output matrix rule applies (unless --pure)
  bool k_mix;        // Q4_K_M: Q6_K for attn_v/ffn_down on some layers
};

// llama_ftype has no "all Q4_K" value; plain q4_k is recorded as Q4_K_S (14),
// the closest mix (which also keeps most matrices in Q4_K).
// q4_k is no llama_ftype's mix (every matrix Q4_K, llama-quantize --pure
// Q4_K_S), so the output rule is not applied to it; for q8_0 it would give
// Q8_0 anyway.
constexpr Target kTargets[] = {
    {"f32", 0, GgmlType::F32, false, false},    {"f16", 1, GgmlType::F16, false, false},
    {"q8_0", 7, GgmlType::Q8_0, false, false},  {"q4_0", 2, GgmlType::Q4_0, true, false},
    {"q4_k", 14, GgmlType::Q4_K, false, false}, {"q4_k_m", 15, GgmlType::Q4_K, true, true},
};
constexpr const char* kTargetList = "f32, f16, q8_0, q4_0, q4_k, q4_k_m";

const Target* find_target(std::string name) {
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const auto& t : kTargets)
    if (name == t.name) return &t;
  return nullptr;
}

// llama.cpp's use_more_bits(): the first and last eighth of the layers and
// every third layer in between.
bool more_bits_layer(int64_t i, int64_t n) {
  return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
}

// The block index of "blk.<i>.<...>", or -1.
int64_t layer_of(const std::string& name) {
  if (name.rfind("blk.", 0) != 0) return -1;
  int64_t i = 0;
  size_t p = 4;
  if (p >= name.size() || !std::isdigit(static_cast<unsigned char>(name[p]))) return -1;
  for (; p < name.size() && std::isdigit(static_cast<unsigned char>(name[p])); ++p) {
    i = i * 10 + (name[p] - '0');
    if (i > (int64_t{1} << 30)) return -1;
  }
  return p < name.size() && name[p] == '.' ? i : -1;
}

struct TensorPlan {
  const gguf::TensorInfo* in;
  GgmlType type;       // the output type (in->type when kept)
  bool convert;        // false: bytes copied as they are
  std::string reason;  // why it is kept (for -v)
  uint64_t n_bytes = 0;
};

// The type llama-quantize's rule asks for, before checking that it fits.
GgmlType wanted_type(const Target& target, const gguf::TensorInfo& t, int64_t n_layer,
                     bool has_output, bool pure) {
  if (pure || !target.output_rule) return target.base;
  const std::string& name = t.name;
  // The output matrix (with tied embeddings, token_embd is it) gets Q6_K, or
  // Q8_0 when its rows are not whole 256-value blocks, as llama-quantize does:
  // 4 bits there cost the most accuracy (a 96-wide model loses 6.5 points in
  // Q4_0 against 0.5 this way; docs/results/train.md).
  if (name == "output.weight" || (!has_output && name == "token_embd.weight"))
    return t.shape[0] % 256 == 0 ? GgmlType::Q6_K : GgmlType::Q8_0;
  if (!target.k_mix) return target.base;
  if (name.find("attn_v.weight") != std::string::npos ||
      name.find("ffn_down") != std::string::npos) {
    const int64_t i = layer_of(name);
    if (i >= 0 && more_bits_layer(i, n_layer)) return GgmlType::Q6_K;
  }
  return target.base;
}

TensorPlan plan_tensor(const Target& target, const gguf::TensorInfo& t, int64_t n_layer,
                       bool has_output, bool pure) {
  TensorPlan p{&t, t.type, false, "", 0};
  // Dimensions as ggml_n_dims counts them (trailing 1s dropped), as
  // llama-quantize does: an [n, 1] tensor is a vector.
  size_t n_dims = t.shape.size();
  while (n_dims > 1 && t.shape[n_dims - 1] == 1) --n_dims;
  if (n_dims < 2) {
    p.reason = "1-D";
  } else if (!t.name.ends_with("weight")) {
    p.reason = "not a weight";
  } else {
    const GgmlType want = wanted_type(target, t, n_layer, has_output, pure);
    if (want == t.type) {
      p.reason = "already " + std::string(gguf::type_name(want));
    } else if (!gguf::row_size(want, t.shape[0])) {
      p.reason = fmt::format("row of {} is not whole {} blocks", t.shape[0], gguf::type_name(want));
    } else if (!tensor::can_dequantize(t.type) || !tensor::can_quantize(want)) {
      p.reason = fmt::format("cannot convert {}", gguf::type_name(t.type));
    } else {
      p.type = want;
      p.convert = true;
    }
  }
  const uint64_t rows = t.n_elements / t.shape[0];
  p.n_bytes = p.convert ? *gguf::row_size(p.type, t.shape[0]) * rows : t.n_bytes;
  return p;
}

std::string human_bytes(uint64_t b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(b);
  int u = 0;
  while (v >= 1024 && u < 4) v /= 1024, ++u;
  return fmt::format("{:.2f} {}", v, units[u]);
}

std::string shape_string(const std::vector<uint64_t>& shape) {
  std::string s;
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? " x " : "") + std::to_string(shape[i]);
  return s;
}

// Removes the file at `path` when destroyed, unless released.
class TempFile {
 public:
  explicit TempFile(std::string path) : path_(std::move(path)) {}
  ~TempFile() {
    if (!path_.empty()) std::remove(path_.c_str());
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  void release() { path_.clear(); }

 private:
  std::string path_;
};

bool same_file(const std::string& a, const std::string& b) {
  std::error_code ec;
  return fs::equivalent(a, b, ec) && !ec;
}

Status write_all(std::FILE* f, const void* p, size_t n, const std::string& path) {
  if (n && std::fwrite(p, 1, n, f) != n)
    return make_error("quantize: cannot write '{}': {}", path, std::strerror(errno));
  return {};
}

// Converts tensor `p` chunk by chunk (rows spread over the pool) and writes it.
Status write_converted(std::FILE* f, const TensorPlan& p, ThreadPool& pool,
                       const std::string& path) {
  const gguf::TensorInfo& t = *p.in;
  const int64_t n_per_row = static_cast<int64_t>(t.shape[0]);
  const int64_t n_rows = static_cast<int64_t>(t.n_elements / t.shape[0]);
  const uint64_t in_row = *gguf::row_size(t.type, t.shape[0]);  // the reader checked it
  const uint64_t out_row = *gguf::row_size(p.type, t.shape[0]);
  const int64_t rows_per_chunk =
      std::max<int64_t>(1, static_cast<int64_t>(kChunkBytes / std::max(out_row, in_row)));
  std::vector<uint8_t> out;  // [rows in chunk, out_row]
  for (int64_t r0 = 0; r0 < n_rows; r0 += rows_per_chunk) {
    const int64_t nr = std::min(rows_per_chunk, n_rows - r0);
    out.resize(static_cast<size_t>(nr) * out_row);
    std::mutex mu;
    Status first_error;
    pool.parallel_for(nr, [&](int64_t begin, int64_t end) {
      std::vector<float> row(static_cast<size_t>(n_per_row));  // [n_per_row]
      for (int64_t r = begin; r < end; ++r) {
        Status st =
            tensor::dequantize_row(t.type, t.data + (r0 + r) * in_row, row.data(), n_per_row);
        if (st.ok())
          st = tensor::quantize_row(p.type, row.data(), out.data() + r * out_row, n_per_row);
        if (!st.ok()) {
          std::lock_guard<std::mutex> lock(mu);
          if (first_error.ok()) first_error = st.error();
          return;
        }
      }
    });
    if (!first_error.ok())
      return make_error("quantize: tensor '{}': {}", t.name, first_error.error().message);
    FRUGAL_TRY(write_all(f, out.data(), out.size(), path));
  }
  return {};
}

// Checks that the file at `path` holds exactly the planned tensors.
Status validate_output(const std::string& path, const std::vector<TensorPlan>& plan, size_t n_kv) {
  auto check = gguf::File::open(path);
  if (!check.ok())
    return make_error("quantize: wrote an unreadable file: {}", check.error().message);
  const gguf::File& out = **check;
  if (out.tensors().size() != plan.size() || out.metadata().size() != n_kv)
    return make_error("quantize: wrote {} tensors and {} keys, meant {} and {}",
                      out.tensors().size(), out.metadata().size(), plan.size(), n_kv);
  for (size_t i = 0; i < plan.size(); ++i) {
    const gguf::TensorInfo& t = out.tensors()[i];
    if (t.name != plan[i].in->name || t.type != plan[i].type || t.shape != plan[i].in->shape)
      return make_error("quantize: tensor {} reads back as '{}' {}, meant '{}' {}", i, t.name,
                        gguf::type_name(t.type), plan[i].in->name, gguf::type_name(plan[i].type));
  }
  return {};
}

struct Flags {
  std::string in, out, type;
  int threads = 0;
  bool verbose = false;
  bool pure = false;
};

Status quantize(const Flags& fl) {
  const auto t0 = std::chrono::steady_clock::now();
  const Target* target = find_target(fl.type);
  if (!target)
    return make_error("quantize: unknown type '{}'; supported: {}", fl.type, kTargetList);
  const std::string tmp_path = fl.out + ".tmp";
  if (fl.out == fl.in || same_file(fl.in, fl.out) || same_file(fl.in, tmp_path))
    return make_error("quantize: output '{}' is the input file; choose another name", fl.out);
  auto opened = gguf::File::open(fl.in);
  if (!opened.ok()) return opened.error();
  const gguf::File& in = **opened;
  if (in.tensors().empty()) return make_error("quantize: '{}' has no tensors", fl.in);

  int64_t n_layer = 0;
  bool has_output = false;
  for (const auto& t : in.tensors()) {
    n_layer = std::max(n_layer, layer_of(t.name) + 1);
    has_output |= t.name == "output.weight";
  }
  std::vector<TensorPlan> plan;
  plan.reserve(in.tensors().size());
  for (const auto& t : in.tensors())
    plan.push_back(plan_tensor(*target, t, n_layer, has_output, fl.pure));

  // Metadata: the input's, general.file_type set to the new type's, and
  // general.alignment dropped (the data is written at the default 32).
  gguf::ByteBuilder h;
  const gguf::Value file_type = gguf::make_uint(gguf::ValueType::UINT32, target->file_type);
  uint64_t n_kv = 0;
  for (const auto& [key, v] : in.metadata()) n_kv += key != "general.alignment";
  if (!in.find("general.file_type")) ++n_kv;
  h.raw("GGUF", 4).u32(3).u64(plan.size()).u64(n_kv);
  auto put_kv = [&](const std::string& key, const gguf::Value& v) {
    h.str(key).u32(static_cast<uint32_t>(v.type));
    gguf::encode_value(h, v);
  };
  if (!in.find("general.file_type")) put_kv("general.file_type", file_type);
  for (const auto& [key, v] : in.metadata()) {
    if (key == "general.alignment") continue;
    put_kv(key, key == "general.file_type" ? file_type : v);
  }
  uint64_t offset = 0;
  for (const auto& p : plan) {
    h.str(p.in->name).u32(static_cast<uint32_t>(p.in->shape.size()));
    for (uint64_t d : p.in->shape) h.u64(d);
    h.u32(static_cast<uint32_t>(p.type)).u64(offset);
    offset += (p.n_bytes + kAlign - 1) / kAlign * kAlign;
  }
  h.pad_to(kAlign);

  const int n_threads = fl.threads > 0
                            ? fl.threads
                            : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  ThreadPool pool(n_threads);
  std::FILE* f = std::fopen(tmp_path.c_str(), "wb");
  if (!f) return make_error("quantize: cannot create '{}': {}", tmp_path, std::strerror(errno));
  TempFile guard(tmp_path);
  Status st = write_all(f, h.bytes().data(), h.size(), tmp_path);
  static const uint8_t zeros[kAlign] = {};
  int n_converted = 0;
  for (size_t i = 0; st.ok() && i < plan.size(); ++i) {
    const TensorPlan& p = plan[i];
    if (p.convert) {
      st = write_converted(f, p, pool, tmp_path);
      ++n_converted;
    } else {
      st = write_all(f, p.in->data, p.in->n_bytes, tmp_path);
    }
    const uint64_t pad = (kAlign - p.n_bytes % kAlign) % kAlign;
    if (st.ok()) st = write_all(f, zeros, pad, tmp_path);
    if (st.ok() && fl.verbose) {
      const std::string what =
          p.convert ? fmt::format("{} -> {}", gguf::type_name(p.in->type), gguf::type_name(p.type))
                    : fmt::format("{} kept ({})", gguf::type_name(p.type), p.reason);
      std::printf("[%*zu/%zu] %-32s [%s] %s, %s -> %s\n",
                  static_cast<int>(std::to_string(plan.size()).size()), i + 1, plan.size(),
                  p.in->name.c_str(), shape_string(p.in->shape).c_str(), what.c_str(),
                  human_bytes(p.in->n_bytes).c_str(), human_bytes(p.n_bytes).c_str());
      std::fflush(stdout);
    }
  }
  if (std::fclose(f) != 0 && st.ok())
    st = make_error("quantize: cannot finish '{}': {}", tmp_path, std::strerror(errno));
  FRUGAL_TRY(st);
  FRUGAL_TRY(validate_output(tmp_path, plan, n_kv));
  std::error_code ec;
  fs::rename(tmp_path, fl.out, ec);
  if (ec)
    return make_error("quantize: cannot rename '{}' to '{}': {}", tmp_path, fl.out, ec.message());
  guard.release();

  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const uint64_t out_size = fs::file_size(fl.out, ec);
  std::printf("quantized %s (%s) to %s (%s, %s): %d of %zu tensors converted, %.2f s\n",
              fl.in.c_str(), human_bytes(in.file_size()).c_str(), fl.out.c_str(),
              human_bytes(ec ? 0 : out_size).c_str(), target->name, n_converted, plan.size(), secs);
  return {};
}

}  // namespace

Action add_quantize_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "quantize", "Convert a GGUF model's weight matrices to another type (like llama-quantize)");
  auto fl = std::make_shared<Flags>();
  cmd->add_option("IN", fl->in, "GGUF file to read")->required();
  cmd->add_option("OUT", fl->out, "GGUF file to write (must differ from IN)")->required();
  cmd->add_option("TYPE", fl->type,
                  "f32, f16, q8_0, q4_0, q4_k or q4_k_m (llama-quantize's Q4_K_M mix); "
                  "case-insensitive")
      ->required();
  cmd->add_option("-t,--threads", fl->threads, "Threads (default: all hardware threads)");
  cmd->add_flag("-v,--verbose", fl->verbose, "Print one line per tensor");
  cmd->add_flag("--pure", fl->pure,
                "Every matrix in TYPE, the output matrix too (llama-quantize --pure)");
  cmd->footer(
      "Matrices ('*weight' tensors of 2 or more dimensions) whose rows are whole blocks of\n"
      "TYPE are converted; vectors (norms, biases) and matrices whose rows do not divide into\n"
      "blocks (e.g. rows of 64 for q4_k, whose blocks hold 256) are copied unchanged.\n"
      "q4_0 and q4_k_m follow llama-quantize: the output matrix (token_embd when tied) in\n"
      "Q6_K, or Q8_0 when its rows are not whole 256-value blocks; q4_k_m also puts some\n"
      "attn_v/ffn_down in Q6_K (llama.cpp's Q4_K_M mix). q4_k, and any TYPE with --pure,\n"
      "use TYPE for every matrix. Metadata is copied, with\n"
      "general.file_type set to TYPE's llama.cpp number.\n"
      "Example: frugal quantize model-f16.gguf model-q8_0.gguf q8_0");
  return [fl]() -> int {
    if (fl->threads < 0)
      return fail(fmt::format("quantize: --threads {} is negative", fl->threads));
    if (auto st = quantize(*fl); !st.ok()) return fail(st.error().message);
    return 0;
  };
}

}  // namespace frugal::cli
