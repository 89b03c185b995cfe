#include "common/process_memory.h"

#include <cstdio>
#include <cstring>

namespace frugal {

ProcessMemory process_memory() {
  ProcessMemory m;
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) return m;
  char line[256];
  while (std::fgets(line, sizeof line, f) != nullptr) {
    unsigned long long kib = 0;
    if (std::sscanf(line, "VmRSS: %llu kB", &kib) == 1) m.rss_bytes = kib * 1024;
    if (std::sscanf(line, "VmHWM: %llu kB", &kib) == 1) m.peak_rss_bytes = kib * 1024;
    if (std::sscanf(line, "RssAnon: %llu kB", &kib) == 1) m.anon_rss_bytes = kib * 1024;
    if (std::sscanf(line, "RssFile: %llu kB", &kib) == 1) m.file_rss_bytes = kib * 1024;
  }
  std::fclose(f);
  return m;
}

}  // namespace frugal
