#!/usr/bin/env python3
"""Writes tests/data/rope/: llama.cpp's RoPE outputs for tests/kernels_ops_test.cpp.

The reference is ggml itself: ggml_rope_ext run on the CPU backend through
ctypes, from the libggml-base.so / libggml-cpu.so that llama-cpp-python builds
and ships (llama_cpp/lib/ in its install). No YaRN (ext_factor 0), freq_scale 1,
attn_factor 1: the plain rotation llama.cpp applies to qwen2/llama models.

Layout (little-endian):
  input.f32        [N_POS, D] random inputs, one row per case position
  <case>.f32       [N_POS, D] the rotated rows, for each case in CASES
  freq_factors.f32 [D/2] divisors used by the *_ff cases
with D = 128 and positions POSITIONS.

Run:  ~/.cache/frugal/pyref/bin/python tools/gen_rope_golden.py LIBDIR NOTE
"""
import ctypes
import os
import sys

import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "rope")
D = 128
POSITIONS = [0, 1, 7, 17, 100, 4095, 131071]
# name, mode (0 = adjacent pairs, 2 = NEOX halves), theta, freq factors?
CASES = [("norm_1e4", 0, 10000.0, False), ("norm_5e5_ff", 0, 500000.0, True),
         ("neox_1e6", 2, 1000000.0, False), ("neox_1e4_ff", 2, 10000.0, True)]


class InitParams(ctypes.Structure):
    _fields_ = [("mem_size", ctypes.c_size_t), ("mem_buffer", ctypes.c_void_p),
                ("no_alloc", ctypes.c_bool)]


def main():
    libdir, note = sys.argv[1], sys.argv[2]
    base = ctypes.CDLL(os.path.join(libdir, "libggml-base.so"), mode=ctypes.RTLD_GLOBAL)
    cpu = ctypes.CDLL(os.path.join(libdir, "libggml-cpu.so"))
    vp, i64, f32, c_int = ctypes.c_void_p, ctypes.c_int64, ctypes.c_float, ctypes.c_int
    base.ggml_init.restype = vp
    base.ggml_init.argtypes = [InitParams]
    base.ggml_new_tensor_1d.restype = vp
    base.ggml_new_tensor_1d.argtypes = [vp, c_int, i64]
    base.ggml_new_tensor_3d.restype = vp
    base.ggml_new_tensor_3d.argtypes = [vp, c_int, i64, i64, i64]
    base.ggml_get_data.restype = vp
    base.ggml_get_data.argtypes = [vp]
    base.ggml_rope_ext.restype = vp
    base.ggml_rope_ext.argtypes = [vp, vp, vp, vp, c_int, c_int, c_int] + [f32] * 6
    base.ggml_new_graph.restype = vp
    base.ggml_new_graph.argtypes = [vp]
    base.ggml_build_forward_expand.argtypes = [vp, vp]
    base.ggml_free.argtypes = [vp]
    cpu.ggml_graph_compute_with_ctx.argtypes = [vp, vp, c_int]
    cpu.ggml_cpu_init()

    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(7)
    n = len(POSITIONS)
    x = rng.standard_normal((n, D)).astype("<f4")
    ff = (1.0 + (np.arange(D // 2) % 5) * 1.7).astype("<f4")  # llama3-like divisors
    x.tofile(os.path.join(OUT, "input.f32"))
    ff.tofile(os.path.join(OUT, "freq_factors.f32"))
    for name, mode, theta, use_ff in CASES:
        ctx = base.ggml_init(InitParams(64 << 20, None, False))
        a = base.ggml_new_tensor_3d(ctx, 0, D, 1, n)  # [D, heads=1, tokens] F32
        ctypes.memmove(base.ggml_get_data(a), x.ctypes.data, x.nbytes)
        pos = base.ggml_new_tensor_1d(ctx, 26, n)  # GGML_TYPE_I32
        ctypes.memmove(base.ggml_get_data(pos), np.array(POSITIONS, np.int32).ctypes.data, 4 * n)
        c = None
        if use_ff:
            c = base.ggml_new_tensor_1d(ctx, 0, D // 2)
            ctypes.memmove(base.ggml_get_data(c), ff.ctypes.data, ff.nbytes)
        r = base.ggml_rope_ext(ctx, a, pos, c, D, mode, 0, theta, 1.0, 0.0, 1.0, 0.0, 0.0)
        g = base.ggml_new_graph(ctx)
        base.ggml_build_forward_expand(g, r)
        cpu.ggml_graph_compute_with_ctx(ctx, g, 1)
        out = np.frombuffer((ctypes.c_float * (n * D)).from_address(base.ggml_get_data(r)),
                            dtype=np.float32).astype("<f4").copy()
        out.tofile(os.path.join(OUT, f"{name}.f32"))
        base.ggml_free(ctx)
    with open(os.path.join(OUT, "README.md"), "w") as f:
        f.write("# RoPE golden files\n\n")
        f.write(f"Produced by `tools/gen_rope_golden.py`: ggml_rope_ext on the CPU backend of "
                f"{note}, numpy {np.__version__}.\n")
        f.write(f"D = {D}, positions {POSITIONS}; cases: "
                + ", ".join(f"{c[0]} (mode {c[1]}, theta {c[2]:g}, freq factors {c[3]})"
                            for c in CASES) + ".\n")
        f.write("Read by `tests/kernels_ops_test.cpp`.\n")
    print("wrote", OUT)


if __name__ == "__main__":
    main()
