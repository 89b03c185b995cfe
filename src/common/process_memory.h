// Resident memory of this process, for the memory figures users and tests
// check (RSS after load <= file + KV cache + 5 %, issue 3). Reads
// /proc/self/status; 0 where that file does not exist (not Linux).
#pragma once

#include <cstdint>

namespace frugal {

struct ProcessMemory {
  uint64_t rss_bytes = 0;       // VmRSS: resident now
  uint64_t peak_rss_bytes = 0;  // VmHWM: highest resident so far
  uint64_t anon_rss_bytes = 0;  // RssAnon: heap, stacks, KV cache (part of rss_bytes)
  uint64_t file_rss_bytes = 0;  // RssFile: mapped files (the model) and the binary
};

ProcessMemory process_memory();

}  // namespace frugal
