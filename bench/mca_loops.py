#!/usr/bin/env python3
"""Static cycle estimates of kernel loops for CPUs this machine does not have.

llvm-mca (Debian llvm-14) simulates a straight-line block of instructions on
a CPU model. For each kernel loop below this script copies the source file,
puts `# LLVM-MCA-BEGIN/END` markers around one iteration of the loop (as
inline asm comments; inner loops fully unrolled so the region is straight
line), compiles it as CMakeLists.txt compiles each table's build (AVX2 and
the two VNNI builds), and prints llvm-mca's instructions and cycles per
iteration. A model's estimate, not a measurement (bench/RESULTS.md,
session 18).

With --arm, the same for the AArch64 SDOT kernels (neon_kernels.h through
neon_dotprod.cpp, aarch64-linux-gnu-g++): one block of one row (R = 1, the
single-row dot) against one block of a dot_block row group (R = kRows), at
decode (one token). Only the first copy of a region is kept (the compiler
inlines R = 1 in several places).

  bench/mca_loops.py [--cpu icelake-server] [--cxx g++]
  bench/mca_loops.py --arm [--cpu apple-m1]
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(ROOT, "src", "kernels", "cpu", "x86")

BUILDS = {
    "avx2": [],
    "avx512-vnni": ["-DFRUGAL_X86_NS=avx512vnni", "-mavx512f", "-mavx512bw", "-mavx512vl",
                    "-mavx512vnni",
                    "-mprefer-vector-width=256"],
    "avx-vnni": ["-DFRUGAL_X86_NS=avxvnni", "-mavxvnni"],
}

# (label, file, text after which the region begins, text before which it
# ends, the C++ condition that picks one template instance, replacements)
LOOPS = [
    ("Q4_0 prefill GEMM, a block (3 rows x 2 panels)", "avx2_gemm.cpp",
     "  for (int64_t i = 0; i < nb; ++i) {\n    const PanelQ8_0* pq[P];",
     "  }\n  store_tokens<R, P>(acc, nt, y, ys);\n}\n\n// ------",
     "R == 3 && P == 2",
     [("#pragma GCC unroll 2\n    for (int c = 0; c < kQK / 4; ++c) {",
       "#pragma GCC unroll 8\n    for (int c = 0; c < kQK / 4; ++c) {")]),
    ("Q4_0 decode, a block of 8 rows", "avx2_dot_q4_0.cpp",
     "  for (int64_t i = 0; i < nb; ++i) {\n    if constexpr (NT == 1) {",
     "  const __m256i to_rows = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);",
     "NT == 1", []),
    ("Q4_K decode, a super-block of 8 rows", "avx2_dot_q4_k.cpp",
     "    for (size_t off = 0; off < kLaneRows * sizeof(BlockQ4_K); off += 64)\n"
     "      _mm_prefetch(next + off, _MM_HINT_T0);",
     "  _mm256_storeu_ps(p.y, _mm256_sub_ps(acc, acc_min));\n}\n\nstruct Q4_K",
     "true",
     [("    for (int r = 0; r < kLaneRows; ++r) {\n      const BlockQ4_K& x = row_blocks(p, r)[i];",
       "#pragma GCC unroll 8\n    for (int r = 0; r < kLaneRows; ++r) {\n"
       "      const BlockQ4_K& x = row_blocks(p, r)[i];")]),
]


ARM_SRC = os.path.join(ROOT, "src", "kernels", "cpu", "arm")
ARM_BUILDS = {"R = 1": 1, "R = kRows": 0}  # 0: the kernel's own kRows
ARM_LOOPS = [
    ("Q4_0 decode, a block (kRows = 4)", "LegacyKernel", "Q4_0Codes", 4,
     "    for (int64_t i = 0; i < n / kQK; ++i) {\n      int8x16_t a[NT][2];",
     "    }\n    for (int r = 0; r < R; ++r)\n"
     "      for (int t = 0; t < NT; ++t) y[t * ys + r] = vaddvq_f32(acc[r][t]);\n"),
    ("Q4_K decode, a super-block (kRows = 2)", "K4Kernel", "Q4_KCodes", 2,
     "    for (int64_t i = 0; i < n / kQKK; ++i) {\n      const Block* b[R];",
     "    }\n    for (int r = 0; r < R; ++r)\n"
     "      for (int t = 0; t < NT; ++t) y[t * ys + r] = vaddvq_f32(acc[r][t]) - mins_acc[r][t];"),
]


def mca(args):
    """llvm-mca's instructions and cycles per iteration of the marked region."""
    out = subprocess.run(["llvm-mca"] + args, check=True, capture_output=True, text=True).stdout
    it = int(re.search(r"Iterations:\s+(\d+)", out).group(1))
    ins = int(re.search(r"Instructions:\s+(\d+)", out).group(1))
    cyc = int(re.search(r"Total Cycles:\s+(\d+)", out).group(1))
    return ins / it, cyc / it


def first_region(asm):
    """The lines of the first LLVM-MCA region only (llvm-mca rejects some of
    GCC's AArch64 directives elsewhere in the file)."""
    lines, keep = [], False
    for line in asm.split("\n"):
        if "LLVM-MCA-BEGIN" in line:
            keep = True
        if keep:
            lines.append(line)
        if keep and "LLVM-MCA-END" in line:
            break
    return "\n".join(lines) + "\n"


def arm_main(args):
    cxx = "aarch64-linux-gnu-g++"
    cpu = args.cpu if args.cpu != "icelake-server" else "apple-m1"
    print(f"llvm-mca -mcpu={cpu}: instructions / cycles per row per loop iteration, one token")
    print("| loop | " + " | ".join(ARM_BUILDS) + " |")
    print("|---|" + "---|" * len(ARM_BUILDS))
    with tempfile.TemporaryDirectory() as tmp:
        hdr_dir = os.path.join(tmp, "kernels", "cpu", "arm")
        os.makedirs(hdr_dir)
        drv = os.path.join(tmp, "neon_dotprod.cpp")  # its "" include finds the copy first
        with open(drv, "w") as f:
            f.write("#include <type_traits>\n" + open(os.path.join(ARM_SRC, "neon_dotprod.cpp")).read())
        for label, kernel, codes, rows, begin, end in ARM_LOOPS:
            cond = f"NT == 1 && R == MCA_R && std::is_same_v<C, {codes}>"
            with open(os.path.join(hdr_dir, "neon_kernels.h"), "w") as f:
                f.write(marked_source(os.path.join(ARM_SRC, "neon_kernels.h"), begin, end, cond, []))
            cells = []
            for name, r in ARM_BUILDS.items():
                r = r or rows
                asm = os.path.join(tmp, "k.s")
                subprocess.run([cxx, f"-I{tmp}", f"-I{os.path.join(ROOT, 'src')}", "-O3", "-DNDEBUG",
                                "-std=c++20", "-march=armv8.2-a+dotprod", f"-DMCA_R={r}", "-S", drv,
                                "-o", asm], check=True)
                region = os.path.join(tmp, "region.s")
                with open(region, "w") as f:
                    f.write(first_region(open(asm).read()))
                ins, cyc = mca(["-mtriple=aarch64", f"-mcpu={cpu}", "-mattr=+dotprod", region])
                cells.append(f"{ins / r:.1f} / {cyc / r:.2f}")
            print(f"| {label} | " + " | ".join(cells) + " |")
    return 0


def marked_source(path, begin_after, end_before, cond, replaces):
    s = open(path).read()
    for old, new in replaces:
        if old not in s:
            raise SystemExit(f"{path}: replacement anchor not found: {old[:60]!r}")
        s = s.replace(old, new)
    for anchor in (begin_after, end_before):
        if anchor not in s:
            raise SystemExit(f"{path}: anchor not found: {anchor[:60]!r}")
    s = s.replace(begin_after, begin_after +
                  f'\n  if constexpr ({cond}) __asm__ volatile("# LLVM-MCA-BEGIN");', 1)
    s = s.replace(end_before, f'  if constexpr ({cond}) __asm__ volatile("# LLVM-MCA-END");\n' +
                  end_before, 1)
    return s


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cpu", default="icelake-server", help="llvm-mca -mcpu (default icelake-server)")
    ap.add_argument("--cxx", default="g++")
    ap.add_argument("--arm", action="store_true", help="the AArch64 SDOT kernels (default cpu apple-m1)")
    args = ap.parse_args()
    if args.arm:
        return arm_main(args)
    base = [args.cxx, f"-I{os.path.join(ROOT, 'src')}", "-O3", "-DNDEBUG", "-std=c++20",
            "-mavx2", "-mfma", "-mf16c", "-S"]
    print(f"llvm-mca -mcpu={args.cpu}: instructions / cycles per loop iteration")
    print("| loop | " + " | ".join(BUILDS) + " |")
    print("|---|" + "---|" * len(BUILDS))
    with tempfile.TemporaryDirectory() as tmp:
        for label, file, begin, end, cond, replaces in LOOPS:
            src = os.path.join(tmp, file)
            with open(src, "w") as f:
                f.write(marked_source(os.path.join(SRC, file), begin, end, cond, replaces))
            cells = []
            for name, flags in BUILDS.items():
                asm = os.path.join(tmp, f"{name}.s")
                subprocess.run(base + flags + [src, "-o", asm], check=True)
                if open(asm).read().count("LLVM-MCA-BEGIN") != 1:
                    raise SystemExit(f"{file} ({name}): the compiler duplicated the region")
                ins, cyc = mca([f"-mcpu={args.cpu}", asm])
                cells.append(f"{ins:.0f} / {cyc:.1f}")
            print(f"| {label} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
