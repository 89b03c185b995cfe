// matmul / get_row over the kernel table. Shapes (GGUF order, see matmul.h):
//   W: [n_in, n_out] (n_out rows of n_in), x: [T, n_in], y: [T, n_out].
#include "kernels/cpu/matmul.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <limits>
#include <span>
#include <vector>

#include "kernels/cpu/dispatch.h"
#include "kernels/cpu/packed_q4_k.h"
#include "tensor/blocks.h"
#include "tensor/quant.h"

namespace frugal::kernels {

bool matmul_supported(gguf::GgmlType t) {
  return active_kernels().find(t) != nullptr;
}

Status check_weight(const WeightView& w) {
  if (!matmul_supported(w.type)) {
    return make_error("weight type {}: no matmul kernel", gguf::type_name(w.type));
  }
  if (w.data == nullptr) return make_error("weight data: null");
  if (w.n_in <= 0 || w.n_out <= 0)
    return make_error("weight shape [{}, {}]: empty", w.n_in, w.n_out);
  const auto rs = gguf::row_size(w.type, static_cast<uint64_t>(w.n_in));
  if (!rs) {
    return make_error("weight n_in {}: not a multiple of the {} block size", w.n_in,
                      gguf::type_name(w.type));
  }
  if (*rs != w.row_bytes) return make_error("weight row_bytes {}: expected {}", w.row_bytes, *rs);
  if (w.layout == WeightLayout::kQ4K_x16 &&
      (w.type != gguf::GgmlType::Q4_K || w.n_out % kQ4KPackRows != 0)) {
    return make_error("packed weight: {} with {} rows cannot be in 16-row Q4_K tiles",
                      gguf::type_name(w.type), w.n_out);
  }
  // The activation format must divide n_in too (Q8_K needs 256 for K-quants).
  const DotKernel* k = active_kernels().find(w.type);
  if (!gguf::row_size(k->act_type, static_cast<uint64_t>(w.n_in))) {
    return make_error("weight n_in {}: not a multiple of the {} activation block", w.n_in,
                      gguf::type_name(k->act_type));
  }
  return {};
}

WeightLayout preferred_layout(const WeightView& w) {
  const DotKernel* k = active_kernels().find(w.type);
  if (w.layout == WeightLayout::kRows && w.type == gguf::GgmlType::Q4_K && k != nullptr &&
      k->dot_packed != nullptr && w.n_out % kQ4KPackRows == 0)
    return WeightLayout::kQ4K_x16;
  return WeightLayout::kRows;
}

Result<WeightView> pack_weight(const WeightView& w, WeightLayout layout, uint8_t* dst,
                               ThreadPool* pool) {
  FRUGAL_TRY(check_weight(w));
  if (w.layout != WeightLayout::kRows) return make_error("pack_weight: weight already packed");
  WeightView out = w;
  out.data = dst;
  out.layout = layout;
  FRUGAL_TRY(check_weight(out));
  if (layout == WeightLayout::kRows) {
    std::memcpy(dst, w.data, static_cast<uint64_t>(w.n_out) * w.row_bytes);
    return out;
  }
  auto groups = [&](int64_t g0, int64_t g1) {  // row groups [g0, g1)
    for (int64_t g = g0; g < g1; ++g) {
      const uint64_t at = static_cast<uint64_t>(g) * kQ4KPackRows * w.row_bytes;
      pack_q4_k_x16(w.data + at, w.row_bytes, w.n_in / tensor::kQKK, dst + at);
    }
  };
  const int64_t n_groups = w.n_out / kQ4KPackRows;
  if (pool != nullptr)
    pool->parallel_for(n_groups, groups);
  else
    groups(0, n_groups);
  return out;
}

void matmul(const WeightView& w, const float* x, float* y, int64_t n_tokens, ThreadPool& pool) {
  matmul_with(active_kernels(), w, x, y, n_tokens, pool);
}

namespace {

// A buffer of at least `bytes`, 64-byte aligned (panel chunks are then
// aligned 32-byte loads), grown on demand and kept per thread.
uint8_t* aligned_scratch(std::vector<uint8_t>& buf, uint64_t bytes) {
  constexpr uint64_t kAlign = 64;
  if (buf.size() < bytes + kAlign) buf.resize(bytes + kAlign);
  const auto addr = reinterpret_cast<uintptr_t>(buf.data());
  return buf.data() + ((kAlign - addr % kAlign) % kAlign);
}

// Plain rows: nr rows of n_in elements, row r at rows + r * row_bytes.
struct PlainRows {
  const uint8_t* rows;
  uint64_t row_bytes;
  int64_t n_in;
  int nr;
};

// Rows 16R .. 16R + 15 of a packed weight as plain rows in `buf`
// (thread-local scratch of the caller), for kernels without a packed path.
PlainRows unpack_group(const WeightView& w, int64_t o, std::vector<uint8_t>& buf) {
  buf.resize(kQ4KPackRows * w.row_bytes);
  unpack_q4_k_x16(w.data + static_cast<uint64_t>(o) * w.row_bytes, w.n_in / tensor::kQKK,
                  buf.data(), w.row_bytes);
  return {buf.data(), w.row_bytes, w.n_in, kQ4KPackRows};
}

// Prefill through a GemmKernel (dispatch.h): the activations [T, act_row_bytes]
// are packed into ceil(T / 8) panels (threads split the panels); then each
// thread takes its contiguous range of rows kGemmRowBlock at a time,
// unpacks them into its own scratch (L2-resident: 16 rows of 8960 Q4_K
// elements are 157 KB) and runs every panel over them, two adjacent panels
// (16 tokens) per call.
void gemm_panels(const GemmKernel& g, const WeightView& w, const uint8_t* act,
                 uint64_t act_row_bytes, float* y, int64_t n_tokens, ThreadPool& pool) {
  constexpr int64_t kGemmRowBlock = 16;
  const int64_t n_in = w.n_in, n_out = w.n_out;
  const int64_t n_panels = (n_tokens + kGemmPanelTokens - 1) / kGemmPanelTokens;
  const uint64_t panel_bytes = g.panel_bytes(n_in);
  thread_local std::vector<uint8_t> panel_buf;
  uint8_t* panels = aligned_scratch(panel_buf, panel_bytes * n_panels);  // [n_panels][panel_bytes]
  pool.parallel_for(n_panels, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t t = p * kGemmPanelTokens;
      g.pack_panel(act + t * act_row_bytes, act_row_bytes, n_in,
                   static_cast<int>(std::min<int64_t>(kGemmPanelTokens, n_tokens - t)),
                   panels + p * panel_bytes);
    }
  });
  const uint64_t unpacked_row_bytes = g.unpacked_row_bytes(n_in);
  // Threads split whole row blocks (a packed weight's row groups).
  static_assert(kGemmRowBlock == kQ4KPackRows);
  const int64_t n_blocks = (n_out + kGemmRowBlock - 1) / kGemmRowBlock;
  pool.parallel_for(n_blocks, [&](int64_t b0, int64_t b1) {
    thread_local std::vector<uint8_t> rows_buf, plain;
    uint8_t* rows = aligned_scratch(rows_buf, unpacked_row_bytes * kGemmRowBlock);
    for (int64_t ob = b0 * kGemmRowBlock; ob < std::min(n_out, b1 * kGemmRowBlock);
         ob += kGemmRowBlock) {
      const int nr = static_cast<int>(std::min(kGemmRowBlock, n_out - ob));
      const uint8_t* src = w.data + static_cast<uint64_t>(ob) * w.row_bytes;
      if (w.layout == WeightLayout::kQ4K_x16) src = unpack_group(w, ob, plain).rows;
      g.unpack_rows(src, w.row_bytes, nr, n_in, rows);
      for (int64_t p = 0; p < n_panels; p += 2) {  // two adjacent panels per call
        const int64_t t = p * kGemmPanelTokens;
        const int nt = static_cast<int>(std::min<int64_t>(2 * kGemmPanelTokens, n_tokens - t));
        g.run(rows, nr, panels + p * panel_bytes, n_in, nt, y + t * n_out + ob,
              n_out);  // y[t .. t + nt), [ob, ob + nr)
      }
    }
  });
}

// The activations in a kernel's partner format: [T, row_bytes].
struct Activations {
  const uint8_t* data;
  uint64_t row_bytes;
};

// x [T, n_in] quantized to k's activation format into buf (or x itself for
// float kernels), once per call. One row is quantized by the caller: a
// parallel region for it costs more than the work.
Activations quantize_activations(const DotKernel& k, const float* x, int64_t n_in, int64_t n_tokens,
                                 std::vector<uint8_t>& buf, ThreadPool& pool) {
  if (k.quantize_act == nullptr)
    return {reinterpret_cast<const uint8_t*>(x), static_cast<uint64_t>(n_in) * sizeof(float)};
  const uint64_t row_bytes = *gguf::row_size(k.act_type, static_cast<uint64_t>(n_in));
  buf.resize(std::max<size_t>(buf.size(), row_bytes * n_tokens));  // grows and stays
  uint8_t* q = buf.data();
  auto rows = [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) k.quantize_act(x + t * n_in, q + t * row_bytes, n_in);
  };
  if (n_tokens == 1)
    rows(0, 1);
  else
    pool.parallel_for(n_tokens, rows);
  return {q, row_bytes};
}

// Rows w.rows[0, nr) for every token (y[t * ys + r]), by the kernel's
// dot_block, dot_tile or dot; one thread's share of a call below the GEMM.
// Each thread owns a contiguous range of output rows and computes them for
// every token, so one weight row is read from memory once per call.
void dot_plain_rows(const DotKernel& k, PlainRows w, Activations act, float* y, int64_t ys,
                    int64_t n_tokens) {
  const int64_t n_in = w.n_in, nr = w.nr;
  auto row = [&](int64_t o) { return w.rows + static_cast<uint64_t>(o) * w.row_bytes; };
  // Prefill: a block of kRowBlock weight rows times a tile of kDotTile tokens.
  // The kernel decodes each weight block once for its tokens (register
  // reuse); the kDotTile activation rows stay in L1 across the row block and
  // the row block stays in L2 across the token tiles.
  constexpr int64_t kRowBlock = 16;
  if (k.dot_block != nullptr) {
    if (n_tokens == 1) {  // decode: the whole range in one call (shares per-call work)
      k.dot_block(w.rows, w.row_bytes, w.nr, act.data, act.row_bytes, n_in, 1, y,
                  ys);  // y[0, nr)
      return;
    }
    // kDotRows rows per call.
    for (int64_t ob = 0; ob < nr; ob += kRowBlock) {
      const int64_t oe = std::min(nr, ob + kRowBlock);
      for (int64_t t = 0; t < n_tokens; t += kDotTile) {
        const int nt = static_cast<int>(std::min<int64_t>(kDotTile, n_tokens - t));
        const uint8_t* a = act.data + static_cast<uint64_t>(t) * act.row_bytes;
        for (int64_t o = ob; o < oe; o += kDotRows) {
          const int n = static_cast<int>(std::min<int64_t>(kDotRows, oe - o));
          k.dot_block(row(o), w.row_bytes, n, a, act.row_bytes, n_in, nt, y + t * ys + o,
                      ys);  // y[t .. t + nt), [o, o + n)
        }
      }
    }
    return;
  }
  if (n_tokens == 1 || k.dot_tile == nullptr) {
    for (int64_t o = 0; o < nr; ++o) {
      for (int64_t t = 0; t < n_tokens; ++t)
        y[t * ys + o] = k.dot(row(o), act.data + static_cast<uint64_t>(t) * act.row_bytes, n_in);
    }
    return;
  }
  for (int64_t ob = 0; ob < nr; ob += kRowBlock) {
    const int64_t oe = std::min(nr, ob + kRowBlock);
    for (int64_t t = 0; t < n_tokens; t += kDotTile) {
      const int nt = static_cast<int>(std::min<int64_t>(kDotTile, n_tokens - t));
      const uint8_t* a = act.data + static_cast<uint64_t>(t) * act.row_bytes;
      for (int64_t o = ob; o < oe; ++o) {
        k.dot_tile(row(o), a, act.row_bytes, n_in, nt, y + t * ys + o,
                   ys);  // y[t .. t + nt), column o
      }
    }
  }
}

// Rows [o0, o1) of w for every token (y[t * n_out + o]). A packed weight's
// range is whole row groups (run_row_jobs cuts chunks of kRowAlign rows).
void dot_rows(const DotKernel& k, const WeightView& w, Activations act, float* y, int64_t n_tokens,
              int64_t o0, int64_t o1) {
  if (w.layout == WeightLayout::kRows) {
    dot_plain_rows(k,
                   {w.data + static_cast<uint64_t>(o0) * w.row_bytes, w.row_bytes, w.n_in,
                    static_cast<int>(o1 - o0)},
                   act, y + o0, w.n_out, n_tokens);
    return;
  }
  if (n_tokens == 1 && k.dot_packed != nullptr) {
    k.dot_packed(w.data + static_cast<uint64_t>(o0) * w.row_bytes, w.row_bytes,
                 static_cast<int>(o1 - o0), act.data, act.row_bytes, w.n_in, 1, y + o0,
                 w.n_out);  // y[o0, o1)
    return;
  }
  thread_local std::vector<uint8_t> plain;  // [16, row_bytes]
  for (int64_t o = o0; o < o1; o += kQ4KPackRows)
    dot_plain_rows(k, unpack_group(w, o, plain), act, y + o, w.n_out, n_tokens);
}

// One weight's rows below the GEMM: kernel, weight, activations, output.
struct RowJob {
  const DotKernel* k;
  const WeightView* w;
  Activations act;
  float* y;
};

// The rows of up to kMaxJobs weights below the GEMM (decode, and types with
// no GEMM), in one parallel region. Each thread owns a contiguous share of
// the rows, by bytes, cut into chunks; it takes its own chunks in order and
// then helps with what is left of the others'. With a static split the
// threads waited for each other at every region's end (1.5B Q4_K_M decode:
// 3.0 % of the samples waiting in ThreadPool, 1.8 % with chunks): the two
// cores do not stream memory equally fast.
constexpr size_t kMaxJobs = 8;
constexpr int kMaxStealThreads = 64;  // more threads: no stealing
constexpr int64_t kChunksPerThread = 32;
constexpr int64_t kMinChunkRows = 16;  // two kDotRows blocks
// Chunks are whole multiples of this: kDotRows blocks, and whole row groups
// of a packed weight.
constexpr int64_t kRowAlign = 16;
static_assert(kRowAlign % kDotRows == 0 && kRowAlign % kQ4KPackRows == 0);

void run_row_jobs(const RowJob* jobs, size_t n_jobs, int64_t n_tokens, ThreadPool& pool) {
  const int P = pool.size();
  int64_t total_rows = 0;
  uint64_t base[kMaxJobs + 1] = {0};  // bytes before job i
  for (size_t i = 0; i < n_jobs; ++i) {
    total_rows += jobs[i].w->n_out;
    base[i + 1] = base[i] + static_cast<uint64_t>(jobs[i].w->n_out) * jobs[i].w->row_bytes;
  }
  // Chunk size: a multiple of kRowAlign, about kChunksPerThread per thread.
  const int64_t per = (total_rows + P * kChunksPerThread - 1) / (P * kChunksPerThread);
  const int64_t chunk = std::max(kMinChunkRows, (per + kRowAlign - 1) / kRowAlign * kRowAlign);
  int64_t cbase[kMaxJobs + 1] = {0};  // chunks before job i
  for (size_t i = 0; i < n_jobs; ++i)
    cbase[i + 1] = cbase[i] + (jobs[i].w->n_out + chunk - 1) / chunk;
  // The first chunk at or after byte b of the jobs' concatenated rows.
  auto chunk_at = [&](uint64_t b) -> int64_t {
    for (size_t i = 0; i < n_jobs; ++i) {
      if (b >= base[i + 1]) continue;
      const auto r = static_cast<int64_t>((b - base[i]) / jobs[i].w->row_bytes);
      return std::min(cbase[i + 1], cbase[i] + (r + chunk / 2) / chunk);
    }
    return cbase[n_jobs];
  };
  auto run_chunk = [&](int64_t c) {
    size_t i = 0;
    while (c >= cbase[i + 1]) ++i;
    const int64_t o0 = (c - cbase[i]) * chunk;
    const int64_t o1 = std::min(jobs[i].w->n_out, o0 + chunk);
    dot_rows(*jobs[i].k, *jobs[i].w, jobs[i].act, jobs[i].y, n_tokens, o0, o1);
  };
  if (P > kMaxStealThreads) {
    pool.run([&](int t, int n) {
      for (int64_t c = chunk_at(base[n_jobs] * t / n); c < chunk_at(base[n_jobs] * (t + 1) / n);
           ++c)
        run_chunk(c);
    });
    return;
  }
  struct alignas(64) Cursor {
    std::atomic<int64_t> next;
    int64_t end;
  };
  Cursor cursors[kMaxStealThreads];
  for (int t = 0; t < P; ++t) {
    cursors[t].next.store(chunk_at(base[n_jobs] * t / P), std::memory_order_relaxed);
    cursors[t].end = chunk_at(base[n_jobs] * (t + 1) / P);
  }
  pool.run([&](int t, int n) {
    for (int k = 0; k < n; ++k) {
      Cursor& cur = cursors[(t + k) % n];  // its own first, then the others'
      for (int64_t c = cur.next.fetch_add(1, std::memory_order_relaxed); c < cur.end;
           c = cur.next.fetch_add(1, std::memory_order_relaxed))
        run_chunk(c);
    }
  });
}

// One weight's product with activations already in its partner format.
void matmul_quantized(const DotKernel& k, const WeightView& w, Activations act, float* y,
                      int64_t n_tokens, ThreadPool& pool) {
  if (k.gemm != nullptr && n_tokens >= kGemmMinTokens) {
    gemm_panels(*k.gemm, w, act.data, act.row_bytes, y, n_tokens, pool);
    return;
  }
  const RowJob job{&k, &w, act, y};
  run_row_jobs(&job, 1, n_tokens, pool);
}

}  // namespace

void matmul_with(const KernelTable& kernels, const WeightView& w, const float* x, float* y,
                 int64_t n_tokens, ThreadPool& pool) {
  const DotKernel* k = kernels.find(w.type);
  if (k == nullptr) {
    // Unreachable after check_weight(); make the mistake visible, never crash.
    std::fill(y, y + n_tokens * w.n_out, std::numeric_limits<float>::quiet_NaN());
    return;
  }
  thread_local std::vector<uint8_t> scratch;  // grows to the largest call and stays
  const Activations act = quantize_activations(*k, x, w.n_in, n_tokens, scratch, pool);
  matmul_quantized(*k, w, act, y, n_tokens, pool);
}

void matmul_many(std::span<const MatmulOut> outs, const float* x, int64_t n_tokens,
                 ThreadPool& pool) {
  matmul_many_with(active_kernels(), outs, x, n_tokens, pool);
}

void matmul_many_with(const KernelTable& kernels, std::span<const MatmulOut> outs, const float* x,
                      int64_t n_tokens, ThreadPool& pool) {
  constexpr size_t kMaxOuts = 8;
  const DotKernel* ks[kMaxOuts];
  bool fallback = outs.size() > kMaxOuts;
  for (size_t i = 0; i < outs.size() && !fallback; ++i) {
    ks[i] = kernels.find(outs[i].w->type);
    fallback = ks[i] == nullptr || outs[i].w->n_in != outs[0].w->n_in;
  }
  if (fallback) {  // unreachable for a checked model; still exact, one at a time
    for (const MatmulOut& o : outs) matmul_with(kernels, *o.w, x, o.y, n_tokens, pool);
    return;
  }
  // x in each partner format the weights need, once per format.
  thread_local std::vector<uint8_t> scratch[kMaxOuts];
  Activations act[kMaxOuts];
  for (size_t i = 0; i < outs.size(); ++i) {
    size_t same = 0;
    while (same < i && ks[same]->act_type != ks[i]->act_type) ++same;
    act[i] = same < i
                 ? act[same]
                 : quantize_activations(*ks[i], x, outs[0].w->n_in, n_tokens, scratch[i], pool);
  }
  // Prompts: one weight at a time (each call is long; the GEMM splits its rows).
  if (n_tokens >= kGemmMinTokens) {
    for (size_t i = 0; i < outs.size(); ++i)
      matmul_quantized(*ks[i], *outs[i].w, act[i], outs[i].y, n_tokens, pool);
    return;
  }
  // Decode: one parallel region for all the weights (decode runs hundreds
  // of regions per token, each a barrier).
  RowJob jobs[kMaxOuts];
  for (size_t i = 0; i < outs.size(); ++i) jobs[i] = {ks[i], outs[i].w, act[i], outs[i].y};
  run_row_jobs(jobs, outs.size(), n_tokens, pool);
}

void get_row(const WeightView& w, int64_t row, float* dst) {
  const uint8_t* src = w.data + static_cast<uint64_t>(row) * w.row_bytes;
  thread_local std::vector<uint8_t> plain;  // [row_bytes]
  if (w.layout == WeightLayout::kQ4K_x16) {
    plain.resize(w.row_bytes);
    const int64_t group = row / kQ4KPackRows * kQ4KPackRows;
    unpack_row_q4_k_x16(w.data + static_cast<uint64_t>(group) * w.row_bytes, w.n_in / tensor::kQKK,
                        static_cast<int>(row - group), plain.data());
    src = plain.data();
  }
  if (!tensor::dequantize_row(w.type, src, dst, w.n_in).ok()) {
    std::fill(dst, dst + w.n_in, std::numeric_limits<float>::quiet_NaN());
  }
}

}  // namespace frugal::kernels
