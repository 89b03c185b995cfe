#!/usr/bin/env python3
"""Distribution parity of frugal against llama.cpp (through llama-cpp-python).

For one model and one text, runs `frugal perplexity --logits-out` and
llama-cpp-python on exactly the same token chunks (the tokens frugal evaluated,
BOS substituted as llama.cpp's perplexity does), then compares the next-token
distributions at every scored position:
  - mean / p99 / max KL(P_llama || P_frugal) in nats,
  - top-1 agreement (argmax equal),
  - perplexity of both on the same positions (llama.cpp's method) and their
    relative difference.
Appends one JSON record per run to --results (default docs/results/parity.jsonl).

Usage (reference venv with llama-cpp-python and numpy):
  ~/.cache/frugal/pyref/bin/python tools/parity_llama_cpp.py \
      --model ~/.cache/frugal/models/SmolLM2-135M-Instruct.Q4_1.gguf \
      --text "$(scripts/fetch_text.sh)" -c 512 --chunks 4 [--kv f16|f32]
"""
import argparse
import datetime
import hashlib
import json
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np
import llama_cpp

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def log_softmax(x):
    x = x.astype(np.float64)
    m = x.max(axis=-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=-1, keepdims=True))


def read_frugal_logits(path):
    """Yields (tokens[n_ctx], logits[n_scored, V]) per chunk."""
    with open(path, "rb") as f:
        magic = f.read(8)
        if magic != b"FRGLOGv1":
            sys.exit(f"{path}: not a frugal logits file")
        n_vocab, n_ctx, n_chunks, first = struct.unpack("<4I", f.read(16))
        n_scored = n_ctx - 1 - first
        for _ in range(n_chunks):
            toks = np.frombuffer(f.read(4 * n_ctx), dtype=np.int32)
            lg = np.frombuffer(f.read(4 * n_vocab * n_scored), dtype=np.float32)
            yield first, toks, lg.reshape(n_scored, n_vocab)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--text", required=True)
    ap.add_argument("-c", "--ctx", type=int, default=512)
    ap.add_argument("--chunks", type=int, default=4)
    ap.add_argument("-t", "--threads", type=int, default=2)
    ap.add_argument("--kv", choices=["f16", "f32"], default="f16",
                    help="KV cache type of both engines (f16 is llama.cpp's default)")
    ap.add_argument("--frugal", default=os.path.join(ROOT, "build", "frugal"))
    ap.add_argument("--results", default=os.path.join(ROOT, "docs", "results", "parity.jsonl"))
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        dump = os.path.join(tmp, "frugal.logits")
        cmd = [args.frugal, "perplexity", args.model, args.text, "-c", str(args.ctx),
               "--chunks", str(args.chunks), "-t", str(args.threads), "--kv-type", args.kv, "--json",
               "--logits-out", dump]
        print("running:", " ".join(cmd), file=sys.stderr)
        frugal_out = json.loads(subprocess.run(cmd, check=True, capture_output=True,
                                               text=True).stdout)

        kv_type = 1 if args.kv == "f16" else 0  # GGML_TYPE_F16 / GGML_TYPE_F32
        llm = llama_cpp.Llama(model_path=args.model, n_ctx=args.ctx, n_batch=args.ctx,
                              n_ubatch=args.ctx, n_threads=args.threads,
                              n_threads_batch=args.threads, logits_all=True, verbose=False,
                              type_k=kv_type, type_v=kv_type, flash_attn=False)
        kls, agree, nll_f, nll_l, max_dlogit = [], [], [], [], []
        for first, toks, lf in read_frugal_logits(dump):
            llm.reset()
            llm.eval(toks.tolist())
            ll = np.asarray(llm.scores[first:args.ctx - 1], dtype=np.float32)  # [n_scored, V]
            lpf, lpl = log_softmax(lf), log_softmax(ll)
            pl = np.exp(lpl)
            kls.extend((pl * (lpl - lpf)).sum(axis=-1).tolist())
            agree.extend((lf.argmax(-1) == ll.argmax(-1)).tolist())
            targets = toks[first + 1:args.ctx]
            rows = np.arange(len(targets))
            nll_f.extend((-lpf[rows, targets]).tolist())
            nll_l.extend((-lpl[rows, targets]).tolist())
            max_dlogit.append(float(np.abs((lf - lf.max(-1, keepdims=True)) -
                                           (ll - ll.max(-1, keepdims=True))).max()))

    kls = np.array(kls)
    ppl_f, ppl_l = float(np.exp(np.mean(nll_f))), float(np.exp(np.mean(nll_l)))
    rec = {
        "date": datetime.date.today().isoformat(),
        "model": os.path.basename(args.model),
        "model_sha256": sha256(args.model),
        "text": os.path.basename(args.text),
        "text_sha256": sha256(args.text),
        "reference": f"llama-cpp-python {llama_cpp.__version__}",
        "llama_kv": args.kv,
        "llama_flash_attn": False,
        "n_ctx": args.ctx,
        "n_chunks": args.chunks,
        "n_positions": int(kls.size),
        "kl_mean": float(kls.mean()),
        "kl_p99": float(np.percentile(kls, 99)),
        "kl_max": float(kls.max()),
        "top1_agreement": float(np.mean(agree)),
        "ppl_frugal": ppl_f,
        "ppl_llama": ppl_l,
        "ppl_rel_diff": abs(ppl_f - ppl_l) / ppl_l,
        "frugal_reported_ppl": frugal_out["ppl"],
        "max_abs_dlogit": max(max_dlogit),
        "frugal_commit": subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                                        capture_output=True, text=True).stdout.strip(),
    }
    print(json.dumps(rec, indent=1))
    os.makedirs(os.path.dirname(args.results), exist_ok=True)
    with open(args.results, "a") as f:
        f.write(json.dumps(rec) + "\n")


if __name__ == "__main__":
    main()
