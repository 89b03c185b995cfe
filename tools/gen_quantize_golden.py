#!/usr/bin/env python3
"""Writes tests/data/quant/kmix.f32.gguf and quantize_golden.json: what llama.cpp's
own quantizer (llama_model_quantize, through llama-cpp-python, no importance
matrix) makes of three f32 models, for tests/cli_quantize_test.cpp.

  kmix.f32.gguf   a llama-architecture file with tied embeddings (no output.weight),
                  8 layers, every matrix row 256 values long (so K-quants apply
                  everywhere), few rows per matrix to stay small; written here
  tiny-qwen2.f32.gguf, tiny-llama.f32.gguf   tests/data/models (rows of 64 and 192)

quantize_golden.json holds, per input and frugal type name, llama.cpp's
general.file_type and every tensor's type and FNV-1a 64 of its bytes:
  q8_0    LLAMA_FTYPE_MOSTLY_Q8_0 (7)
  q4_0    LLAMA_FTYPE_MOSTLY_Q4_0 (2), llama.cpp's mix (output matrix Q6_K, or
          Q8_0 when its rows are not whole 256-value blocks)
  q4_0 --pure   the same with `pure` (every matrix Q4_0)
  q4_k    LLAMA_FTYPE_MOSTLY_Q4_K_S (14) with `pure` (every matrix Q4_K)
  q4_k_m  LLAMA_FTYPE_MOSTLY_Q4_K_M (15), llama.cpp's mix
Q4_K types only for kmix: on the tiny models llama.cpp moves rows that are not
whole 256-value blocks to other types, where frugal keeps them as they are.

Run:  ~/.cache/frugal/pyref/bin/python tools/gen_quantize_golden.py
(llama-cpp-python 0.3.36, gguf 0.19.0, numpy 2.4.6: tools/setup_pyref.sh).
"""
import ctypes
import json
import os
import tempfile

import gguf
import llama_cpp
import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "tests", "data", "quant")
MODELS = os.path.join(ROOT, "tests", "data", "models")

# frugal type name -> (llama_ftype, pure)
FTYPES = {"q8_0": (7, False), "q4_0": (2, False), "q4_0 --pure": (2, True), "q4_k": (14, True),
          "q4_k_m": (15, False)}


def write_kmix(path):
    E, L, V, ROWS = 256, 8, 32, 2
    w = gguf.GGUFWriter(path, "llama")
    w.add_name("kmix")
    w.add_context_length(64)
    w.add_embedding_length(E)
    w.add_block_count(L)
    w.add_feed_forward_length(E)
    w.add_head_count(4)
    w.add_head_count_kv(4)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_file_type(0)
    rng = np.random.default_rng(20251123)

    def matrix(name, rows):
        x = rng.standard_normal((rows, E)).astype(np.float32) * 0.05
        x[rng.random(x.shape) < 0.01] *= 20  # a few outliers, as trained weights have
        w.add_tensor(name, x)

    matrix("token_embd.weight", V)
    w.add_tensor("output_norm.weight", np.ones(E, np.float32))
    for i in range(L):
        b = f"blk.{i}."
        w.add_tensor(b + "attn_norm.weight", (1 + 0.1 * rng.standard_normal(E)).astype(np.float32))
        for n in ("attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"):
            matrix(b + n + ".weight", ROWS)
        w.add_tensor(b + "ffn_norm.weight", np.ones(E, np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def fnv1a64(data):
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def quantize(src, ftype, pure, tmp):
    dst = os.path.join(tmp, "out.gguf")
    p = llama_cpp.llama_model_quantize_default_params()
    p.ftype = ftype
    p.pure = pure
    p.nthread = 1
    rc = llama_cpp.llama_model_quantize(src.encode(), dst.encode(), ctypes.byref(p))
    if rc != 0:
        raise SystemExit(f"llama_model_quantize({src}, ftype {ftype}) failed: {rc}")
    r = gguf.GGUFReader(dst)
    ft = r.fields["general.file_type"]
    return {
        "file_type": int(ft.parts[ft.data[0]][0]),
        "tensors": {t.name: {"type": t.tensor_type.name, "fnv1a64": fnv1a64(t.data.tobytes())}
                    for t in r.tensors},
    }


def main():
    kmix = os.path.join(OUT, "kmix.f32.gguf")
    write_kmix(kmix)
    golden = {"generator": "tools/gen_quantize_golden.py",
              "llama_cpp_python": llama_cpp.__version__, "inputs": {}}
    inputs = {"quant/kmix.f32.gguf": kmix,
              "models/tiny-qwen2.f32.gguf": os.path.join(MODELS, "tiny-qwen2.f32.gguf"),
              "models/tiny-llama.f32.gguf": os.path.join(MODELS, "tiny-llama.f32.gguf")}
    with tempfile.TemporaryDirectory() as tmp:
        for rel, path in inputs.items():
            types = FTYPES if rel.startswith("quant/") else ["q8_0", "q4_0", "q4_0 --pure"]
            golden["inputs"][rel] = {t: quantize(path, *FTYPES[t], tmp) for t in types}
    with open(os.path.join(OUT, "quantize_golden.json"), "w") as f:
        json.dump(golden, f, indent=1, sort_keys=True)
        f.write("\n")
    print("wrote", kmix, "and quantize_golden.json")


if __name__ == "__main__":
    main()
