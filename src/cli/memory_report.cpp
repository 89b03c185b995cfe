#include "cli/memory_report.h"

#include <cstdio>

#include "common/process_memory.h"
#include "runtime/engine.h"

namespace frugal::cli {

// The KV cache is committed as positions fill (model/KvCache), so RSS holds
// all of it only once the context has been used in full (perplexity does);
// the file is all resident once a forward pass has read every weight.
void print_memory(const runtime::Engine& engine, const ProcessMemory& before_load) {
  const auto& hp = engine.model().hparams();
  const double mib = 1024.0 * 1024.0;
  const double kv = static_cast<double>(engine.n_ctx()) *
                    static_cast<double>(model::KvCache::bytes_per_position(hp, engine.kv_type()));
  const double file = static_cast<double>(engine.file().file_size());
  const auto m = process_memory();
  const double peak = static_cast<double>(m.peak_rss_bytes);
  const double base = static_cast<double>(before_load.rss_bytes);
  std::fprintf(stderr,
               "[memory: RSS %.1f MiB (%.1f anonymous, %.1f file-backed), peak %.1f MiB | file "
               "%.1f MiB mapped, KV cache %.1f MiB for %lld positions | peak = file + KV %+.1f MiB "
               "(%+.1f %%) | before loading %.1f MiB, so the load added file + KV %+.1f MiB "
               "(%+.1f %%)]\n",
               static_cast<double>(m.rss_bytes) / mib, static_cast<double>(m.anon_rss_bytes) / mib,
               static_cast<double>(m.file_rss_bytes) / mib, peak / mib, file / mib, kv / mib,
               static_cast<long long>(engine.n_ctx()), (peak - file - kv) / mib,
               100.0 * (peak - file - kv) / (file + kv), base / mib,
               (peak - base - file - kv) / mib, 100.0 * (peak - base - file - kv) / (file + kv));
}

}  // namespace frugal::cli
