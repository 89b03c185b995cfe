// memset, memcpy and memmove for the emulated-CPU test module, in baseline
// x86-64 only (REP STOSB / REP MOVSB). Kernels call these (the GEMM's panel
// packing clears its padding), and glibc's own copies are picked at load
// time for the *host* CPU (ifunc): on a host with AVX-512 that is an
// AVX-512 memset, which the emulated Arrow Lake (no AVX-512) refuses with
// #UD before the kernel under test has run. Hidden visibility makes the
// linker bind the module's own calls to these, and nothing else's. (C++
// cannot redeclare the built-in memset hidden, so each is defined under its
// own name and given the libc name as a hidden alias in assembly.)
#include <cstddef>
#include <cstdint>

#define FRUGAL_EMU_LOCAL extern "C" __attribute__((visibility("hidden"), used))
#define FRUGAL_EMU_ALIAS(name) \
  asm(".globl " #name "\n\t.hidden " #name "\n\t.set " #name ", frugal_emu_" #name)

FRUGAL_EMU_LOCAL void* frugal_emu_memset(void* dst, int c, std::size_t n) {
  void* d = dst;
  asm volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
  return dst;
}

FRUGAL_EMU_LOCAL void* frugal_emu_memcpy(void* dst, const void* src, std::size_t n) {
  void* d = dst;
  asm volatile("rep movsb" : "+D"(d), "+S"(src), "+c"(n) : : "memory");
  return dst;
}

FRUGAL_EMU_LOCAL void* frugal_emu_memmove(void* dst, const void* src, std::size_t n) {
  const auto d = reinterpret_cast<std::uintptr_t>(dst), s = reinterpret_cast<std::uintptr_t>(src);
  if (d <= s || d - s >= n) return frugal_emu_memcpy(dst, src, n);  // a forward copy is safe
  // Overlap with dst above src: copy backwards, from the last byte.
  auto* dl = static_cast<unsigned char*>(dst) + n - 1;
  const auto* sl = static_cast<const unsigned char*>(src) + n - 1;
  asm volatile("std\n\trep movsb\n\tcld" : "+D"(dl), "+S"(sl), "+c"(n) : : "memory");
  return dst;
}

FRUGAL_EMU_ALIAS(memset);
FRUGAL_EMU_ALIAS(memcpy);
FRUGAL_EMU_ALIAS(memmove);
