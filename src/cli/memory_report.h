// One stderr line comparing resident memory with what it should be made of:
// the mapped model file and the KV cache (issue 3: RSS <= file + KV + 5 %).
#pragma once

#include "common/process_memory.h"

namespace frugal::runtime {
class Engine;
}

namespace frugal::cli {

// `before_load`: the process's memory just before Engine::load (binary,
// libraries, CLI state), so what loading itself added is shown apart from
// that fixed cost, which a small model's 5 % cannot cover.
void print_memory(const runtime::Engine& engine, const ProcessMemory& before_load);

}  // namespace frugal::cli
