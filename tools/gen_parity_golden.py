#!/usr/bin/env python3
"""Golden files for tests/runtime_parity_test.cpp, from llama-cpp-python.

For each real model (scripts/fetch_models.py):
  tests/data/parity/<model>.json       one perplexity chunk of N_CTX tokens of
      Genesis (scripts/fetch_text.sh), BOS substituted as llama.cpp's
      perplexity does: the chunk's token ids, and for every scored position
      (second half) llama.cpp's top-K token ids and logits and the target's
      negative log-likelihood.
  tests/data/parity/<model>-long.json  (smallest model only) a ~6k-token
      prompt of the same text and llama.cpp's greedy 128-token continuation
      at n_ctx 8192.
llama.cpp runs with an F32 KV cache and no flash attention: frugal's
configuration (docs/results/parity.md).

Usage: ~/.cache/frugal/pyref/bin/python tools/gen_parity_golden.py
"""
import json
import os
import subprocess
import sys

import numpy as np
import llama_cpp

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import fetch_models  # noqa: E402

N_CTX = 256
TOP_K = 5
LONG_PROMPT = 6000
LONG_GEN = 128
OUT = os.path.join(ROOT, "tests", "data", "parity")


def load(path, n_ctx):
    return llama_cpp.Llama(model_path=path, n_ctx=n_ctx, n_batch=512, n_ubatch=512, n_threads=2,
                           n_threads_batch=2, logits_all=True, verbose=False, type_k=0, type_v=0,
                           flash_attn=False)


def log_softmax(x):
    x = x.astype(np.float64)
    m = x.max(-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(-1, keepdims=True))


def chunk_golden(name, path, text):
    llm = load(path, N_CTX)
    add_bos = llm._model.add_bos_token()
    chunk = llm.tokenize(text.encode(), add_bos=add_bos, special=False)[:N_CTX]
    if add_bos:
        chunk[0] = llm.token_bos()
    llm.reset()
    llm.eval(chunk)
    first = N_CTX // 2
    logits = np.asarray(llm.scores[first:N_CTX - 1], dtype=np.float32)
    lp = log_softmax(logits)
    rows = []
    for i, row in enumerate(logits):
        top = np.argsort(-row, kind="stable")[:TOP_K]
        rows.append({"top_ids": [int(t) for t in top],
                     "top_logits": [float(row[t]) for t in top],
                     "nll": float(-lp[i, chunk[first + 1 + i]])})
    nll = float(np.mean([r["nll"] for r in rows]))
    return {"model": os.path.basename(path), "sha256": fetch_models.MODELS[name][1],
            "reference": f"llama-cpp-python {llama_cpp.__version__}",
            "llama_settings": "n_ctx 256, n_batch 512, type_k/type_v F32, flash_attn off",
            "text": "Genesis (KJV), Debian bible-kjv-text via scripts/fetch_text.sh",
            "n_ctx": N_CTX, "first": first, "tokens": chunk, "ppl": float(np.exp(nll)),
            "positions": rows}


def long_golden(name, path, text):
    llm = load(path, 8192)
    add_bos = llm._model.add_bos_token()
    prompt = llm.tokenize(text.encode(), add_bos=add_bos, special=False)[:LONG_PROMPT]
    gen = []
    for t in llm.generate(prompt, temp=0.0, top_k=1, reset=True):
        gen.append(int(t))
        if len(gen) == LONG_GEN or llm.token_eos() == t:
            break
    print(name, "long:", repr(llm.detokenize(gen).decode("utf-8", "replace"))[:120])
    return {"model": os.path.basename(path), "sha256": fetch_models.MODELS[name][1],
            "reference": f"llama-cpp-python {llama_cpp.__version__}",
            "llama_settings": "n_ctx 8192, n_batch 512, type_k/type_v F32, flash_attn off, greedy",
            "prompt_ids": prompt, "greedy_ids": gen}


def main():
    import argparse
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", choices=["chunks", "long"], help="write only one kind of golden")
    args = ap.parse_args()
    text_path = subprocess.run([os.path.join(ROOT, "scripts", "fetch_text.sh")], check=True,
                               capture_output=True, text=True).stdout.strip()
    text = open(text_path, encoding="utf-8").read()
    os.makedirs(OUT, exist_ok=True)
    names = list(fetch_models.MODELS)
    for name in names:
        path = fetch_models.fetch(name)
        base = os.path.splitext(os.path.basename(path))[0]
        if args.only != "long":
            rec = chunk_golden(name, path, text)
            with open(os.path.join(OUT, base + ".json"), "w") as f:
                json.dump(rec, f, separators=(",", ":"))
            print(name, "ppl", rec["ppl"])
        # The long-context case runs on the smallest model only.
        if args.only != "chunks" and name == names[0]:
            rec = long_golden(name, path, text)
            with open(os.path.join(OUT, base + "-long.json"), "w") as f:
                json.dump(rec, f, separators=(",", ":"))


if __name__ == "__main__":
    main()
