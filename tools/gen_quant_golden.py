#!/usr/bin/env python3
"""Writes tests/data/quant/: golden files for tests/tensor_quant_test.cpp.

The reference is the PyPI `gguf` package (gguf-py, maintained with llama.cpp):
  <TYPE>.bin      8 blocks of random bytes (f16 scale fields made finite and moderate)
  <TYPE>.f32      gguf.quants.dequantize of <TYPE>.bin (little-endian float32)
  input.f32       a fixed random float vector (2048 values, one all-zero block of 256)
  <TYPE>.q.bin    gguf.quants.quantize(input.f32) for the types gguf can quantize
  fbits.f32       4096 random finite float bit patterns (all exponents, subnormals)
  F16.q.bin / BF16.q.bin are computed from fbits.f32 instead of input.f32.

With --ggml-lib PATH/libggml-base.so (the library llama-cpp-python builds and
ships; llama_cpp/lib/ in its install), also, through ctypes, the quantizers
gguf-py lacks, from ggml's reference C functions quantize_row_<t>_ref:
  Q4_K.q.bin Q6_K.q.bin (weights), Q8_K.q.bin Q8_1.q.bin (activations), of input.f32
With --ggml-cpu-lib PATH/libggml-cpu.so (same install), also the activation
quantizers llama.cpp's CPU backend really runs before a quantized matmul
(ggml_get_type_traits_cpu(t)->from_float; on an AVX2 build these are the x86
routines, which round differently from the _ref ones):
  act_input.f32   2048 floats: random blocks, and blocks full of exact ties
  Q8_0.act.bin Q8_1.act.bin   from_float of act_input.f32

Run:  ~/.cache/frugal/pyref/bin/python tools/gen_quant_golden.py [--ggml-lib PATH]
          [--ggml-cpu-lib PATH] [--ggml-note TEXT]
"""
import os
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T
from gguf.constants import GGML_QUANT_SIZES

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "quant")
KMIX_NOTE = (
    "\nAlso here, from `tools/gen_quantize_golden.py` (llama-cpp-python's llama_model_quantize): "
    "`kmix.f32.gguf` (a small llama-architecture model whose rows are whole Q4_K blocks) and "
    "`quantize_golden.json` (llama.cpp's tensor types and bytes, as FNV-1a 64, for it and the tiny "
    "models of tests/data/models), read by `tests/cli_quantize_test.cpp`.\n")
N_BLOCKS = 8

# Byte offsets of the f16 scale fields inside one block, per type.
F16_FIELDS = {
    T.Q4_0: [0], T.Q4_1: [0, 2], T.Q5_0: [0], T.Q5_1: [0, 2], T.Q8_0: [0],
    T.Q2_K: [80, 82], T.Q3_K: [108], T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208],
}
DEQUANT_TYPES = [T.F16, T.BF16, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0,
                 T.Q2_K, T.Q3_K, T.Q4_K, T.Q5_K, T.Q6_K]
QUANT_TYPES = [T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0, T.Q2_K, T.Q3_K, T.Q4_K, T.Q5_K, T.Q6_K]


def random_blocks(rng, qtype):
    block_size, type_size = GGML_QUANT_SIZES[qtype]
    if qtype == T.F16:
        vals = rng.standard_normal(N_BLOCKS * 32).astype(np.float16)
        return vals.view(np.uint8)
    if qtype == T.BF16:
        return rng.integers(0, 256, size=N_BLOCKS * 64, dtype=np.uint8)
    raw = rng.integers(0, 256, size=(N_BLOCKS, type_size), dtype=np.uint8)
    for off in F16_FIELDS[qtype]:
        # Moderate, finite, either sign (mins are signed for Q4_1/Q5_1).
        scale = (rng.uniform(0.001, 0.1, size=N_BLOCKS) * rng.choice([-1, 1], size=N_BLOCKS))
        raw[:, off:off + 2] = scale.astype(np.float16).view(np.uint8).reshape(N_BLOCKS, 2)
    return raw.reshape(-1)


def ggml_quantize(lib_path, x, written):
    import ctypes
    lib = ctypes.CDLL(lib_path)
    fptr = x.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
    for name, tsize, bsize in [("q4_K", 144, 256), ("q6_K", 210, 256), ("q8_K", 292, 256),
                               ("q8_1", 36, 32)]:
        fn = getattr(lib, f"quantize_row_{name}_ref")
        fn.restype = None
        fn.argtypes = [ctypes.POINTER(ctypes.c_float), ctypes.c_void_p, ctypes.c_int64]
        out = np.zeros(x.size // bsize * tsize, dtype=np.uint8)
        fn(fptr, out.ctypes.data, x.size)
        fname = f"{name.upper()}.q.bin"
        out.tofile(os.path.join(OUT, fname))
        written.append(fname)


def ggml_cpu_activations(lib_path, written):
    import ctypes
    lib = ctypes.CDLL(lib_path)
    lib.ggml_cpu_init.restype = None
    lib.ggml_cpu_init()
    lib.ggml_get_type_traits_cpu.restype = ctypes.c_void_p
    lib.ggml_get_type_traits_cpu.argtypes = [ctypes.c_int]
    rng = np.random.default_rng(20240602)  # own stream: the other files stay as they were
    x = (rng.standard_normal(2048) * rng.uniform(0.01, 2.0, size=2048)).astype("<f4")
    # Blocks whose absmax is 127 (so 127/amax == 1) holding half-integers: every
    # one is a tie, which round-half-even and round-half-away settle differently.
    for b in range(8, 24):
        blk = (rng.integers(-253, 254, size=32) * 0.5).astype("<f4")
        blk[rng.integers(0, 32)] = 127.0 * rng.choice([-1.0, 1.0])
        x[32 * b:32 * b + 32] = blk * np.float32(2.0 ** (b % 5 - 2))  # power-of-2 scales keep ties
    x[1024:1056] = 0.0  # an all-zero block
    x.tofile(os.path.join(OUT, "act_input.f32"))
    written.append("act_input.f32")
    FromFloat = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64)
    for name, type_id, tsize in [("Q8_0", 8, 34), ("Q8_1", 9, 36)]:
        traits = lib.ggml_get_type_traits_cpu(type_id)
        from_float = FromFloat(ctypes.c_void_p.from_address(traits).value)  # first field
        out = np.zeros(x.size // 32 * tsize, dtype=np.uint8)
        from_float(x.ctypes.data, out.ctypes.data, x.size)
        out.tofile(os.path.join(OUT, f"{name}.act.bin"))
        written.append(f"{name}.act.bin")


def main():
    ggml_lib = sys.argv[sys.argv.index("--ggml-lib") + 1] if "--ggml-lib" in sys.argv else None
    ggml_cpu_lib = (sys.argv[sys.argv.index("--ggml-cpu-lib") + 1]
                    if "--ggml-cpu-lib" in sys.argv else None)
    ggml_note = sys.argv[sys.argv.index("--ggml-note") + 1] if "--ggml-note" in sys.argv else ""
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20240601)
    written = []
    for qtype in DEQUANT_TYPES:
        raw = random_blocks(rng, qtype)
        floats = gguf.quants.dequantize(raw, qtype)
        floats = np.asarray(floats, dtype="<f4").reshape(-1)
        raw.tofile(os.path.join(OUT, f"{qtype.name}.bin"))
        floats.tofile(os.path.join(OUT, f"{qtype.name}.f32"))
        written.append(f"{qtype.name}.bin/.f32")

    x = (rng.standard_normal(2048) * rng.uniform(0.01, 2.0, size=2048)).astype("<f4")
    x[512:768] = 0.0  # an all-zero block exercises the d == 0 paths
    x.tofile(os.path.join(OUT, "input.f32"))
    for qtype in QUANT_TYPES:
        try:
            q = gguf.quants.quantize(x.reshape(1, -1), qtype)
        except NotImplementedError:
            continue
        np.asarray(q, dtype=np.uint8).tofile(os.path.join(OUT, f"{qtype.name}.q.bin"))
        written.append(f"{qtype.name}.q.bin")
    if ggml_lib:
        ggml_quantize(ggml_lib, x, written)

    bits = rng.integers(0, 2**32, size=4096, dtype=np.uint64).astype(np.uint32)
    finite = (bits & 0x7F800000) != 0x7F800000
    bits = np.where(finite, bits, bits & 0x807FFFFF)  # NaN/inf exponent -> subnormal
    fbits = bits.view(np.float32).astype("<f4")
    fbits.tofile(os.path.join(OUT, "fbits.f32"))
    with np.errstate(over="ignore"):  # values beyond 65504 must become inf
        f16 = gguf.quants.quantize(fbits, T.F16)
    f16.view(np.uint8).tofile(os.path.join(OUT, "F16.q.bin"))
    np.asarray(gguf.quants.quantize(fbits, T.BF16)).view(np.uint8).tofile(
        os.path.join(OUT, "BF16.q.bin"))
    written += ["fbits.f32", "F16.q.bin", "BF16.q.bin"]
    if ggml_cpu_lib:
        ggml_cpu_activations(ggml_cpu_lib, written)

    from importlib.metadata import version
    with open(os.path.join(OUT, "README.md"), "w") as f:
        f.write("# Quantization golden files\n\n")
        f.write("Produced by `tools/gen_quant_golden.py` with gguf (gguf-py) "
                f"{version('gguf')} and numpy {np.__version__} (Python {sys.version.split()[0]}).\n")
        if ggml_lib:
            f.write(f"Q4_K/Q6_K/Q8_K/Q8_1 .q.bin: ggml's quantize_row_*_ref via ctypes from "
                    f"libggml-base.so {ggml_note}.\n")
        if ggml_cpu_lib:
            f.write(f"Q8_0/Q8_1 .act.bin: from_float of ggml_get_type_traits_cpu via ctypes from "
                    f"libggml-cpu.so (x86 AVX2 build) {ggml_note}.\n")
        f.write("Read by `tests/tensor_quant_test.cpp`; see the script's docstring for the layout.\n\n")
        f.write("Files: " + ", ".join(written) + "\n")
        f.write(KMIX_NOTE)  # files of tools/gen_quantize_golden.py, which share this folder
    print("wrote", len(written), "files to", OUT)


if __name__ == "__main__":
    main()
