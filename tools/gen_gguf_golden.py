#!/usr/bin/env python3
"""Golden values for tests/gguf_reader_test.cpp, read with the PyPI `gguf`
package (GGUFReader), which nobody here wrote.

Usage: ~/.cache/frugal/pyref/bin/python tools/gen_gguf_golden.py [MODEL_CACHE_DIR]
Writes tests/data/gguf/golden.json. Strings are stored as hex of their raw
bytes (token texts need not be valid UTF-8); floats as the float64 value of the
stored float32/float64.
"""
import importlib.metadata
import json
import os
import sys

import gguf
import numpy as np
from gguf import GGUFReader, GGUFValueType

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(ROOT, "..", "shared", "testdata", "vocab")
VOCAB_FILES = ["ggml-vocab-gpt-2.gguf", "constructed-vocab-deepseek-r1-qwen.gguf"]
MODEL_FILES = ["SmolLM2-135M-Instruct.Q4_1.gguf", "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"]


def scalar(field, t, idx):
    part = field.parts[idx]
    if t == GGUFValueType.STRING:
        return bytes(part).hex()
    v = part[0]
    if t in (GGUFValueType.FLOAT32, GGUFValueType.FLOAT64):
        return float(v)
    if t == GGUFValueType.BOOL:
        return bool(v)
    return int(v)


def sample_indices(n):
    # first three, a middle one, the last
    return sorted({i for i in [0, 1, 2, n // 2, n - 1] if 0 <= i < n})


def describe_field(field):
    t = field.types[0]
    out = {"type": int(t)}
    if t != GGUFValueType.ARRAY:
        out["value"] = scalar(field, t, field.data[0])
        return out
    if len(field.types) < 2:  # empty array: the reader records no element type
        out["count"] = 0
        return out
    et = field.types[1]
    out["elem_type"] = int(et)
    out["count"] = len(field.data)
    if et == GGUFValueType.ARRAY:
        return out  # nested arrays: count only (none in the files we check)
    out["samples"] = {str(i): scalar(field, et, field.data[i]) for i in sample_indices(len(field.data))}
    return out


def describe_file(path, tensor_samples=0):
    r = GGUFReader(path)
    kv = {}
    for name, field in r.fields.items():
        if name.startswith("GGUF."):
            continue
        kv[name] = describe_field(field)
    d = {
        "file_size": os.path.getsize(path),
        "version": int(r.fields["GGUF.version"].parts[-1][0]),
        "alignment": int(r.alignment),
        "data_offset": int(r.data_offset),
        "tensor_count": len(r.tensors),
        "kv_count": len(kv),
        "kv": kv,
    }
    if tensor_samples:
        idx = sample_indices(len(r.tensors)) + [i for i in (3, 4, 10, 100) if i < len(r.tensors)]
        ts = []
        for i in sorted(set(idx)):
            t = r.tensors[i]
            raw = np.asarray(t.data).view(np.uint8).reshape(-1)
            ts.append({
                "index": i,
                "name": t.name,
                "shape": [int(x) for x in t.shape],  # GGUF order: shape[0] fastest
                "type": int(t.tensor_type),
                "n_elements": int(t.n_elements),
                "n_bytes": int(t.n_bytes),
                "offset": int(t.data_offset) - int(r.data_offset),
                "first_bytes": bytes(raw[:16]).hex(),
                "last_bytes": bytes(raw[-16:]).hex(),
            })
        d["tensors"] = ts
    return d


def main():
    out = {
        "_generated_by": f"tools/gen_gguf_golden.py with gguf {importlib.metadata.version('gguf')} "
                         f"(PyPI), numpy {np.__version__}",
        "files": {},
    }
    for name in VOCAB_FILES:
        out["files"][name] = describe_file(os.path.join(SHARED, name))
    cache = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("FRUGAL_MODEL_CACHE")
    if cache:
        for name in MODEL_FILES:
            p = os.path.join(cache, name)
            if os.path.exists(p):
                d = describe_file(p, tensor_samples=True)
                # Tokenizer arrays are checked on the vocab files already; keep
                # the model entries small.
                for k in list(d["kv"]):
                    if d["kv"][k].get("count", 0) > 1000:
                        d["kv"][k].pop("samples", None)
                out["files"][name] = d
    dst = os.path.join(ROOT, "tests", "data", "gguf", "golden.json")
    with open(dst, "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
    print("wrote", dst, os.path.getsize(dst), "bytes;", ", ".join(out["files"]))


if __name__ == "__main__":
    main()
