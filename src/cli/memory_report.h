// One stderr line comparing resident memory with what it should be made of:
// the mapped model file and the KV cache (issue 3: RSS <= file + KV + 5 %).
#pragma once

namespace frugal::runtime {
class Engine;
}

namespace frugal::cli {

void print_memory(const runtime::Engine& engine);

}  // namespace frugal::cli
