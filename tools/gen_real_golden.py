#!/usr/bin/env python3
"""Reference greedy continuations of real GGUF models from llama.cpp.

Runs llama-cpp-python (PyPI; the llama.cpp build it bundles) on the real models
fetched by scripts/fetch_models.py and writes, per model, the prompt token ids
llama.cpp's tokenizer gives for each prompt text and the first N greedy tokens
(argmax at every step, no sampling), with the margin between the two best
logits at each step (a near-tie can flip on rounding; the margin says where).

  ~/.cache/frugal/pyref/bin/python tools/gen_real_golden.py [--tokens 64]

Output: tests/data/real/<model file stem>.json (committed). Never needed to
build or test frugal.
"""
import argparse
import json
import os
import sys

import numpy as np
import llama_cpp

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import fetch_models  # noqa: E402

# A fixed pool of plain-text prompts (continued as text) and chat prompts
# (already rendered as ChatML text, special tokens parsed, so the reference
# does not depend on our renderer). Per model, the first N_KEEP prompts of the
# pool whose greedy path has no near-tie in the first MIN_MARGIN_TOKENS steps
# (the reference's own top-2 logit gap >= MIN_MARGIN) are kept. The rule looks
# only at the reference: at a near-tie llama.cpp itself flips with its own
# settings (its F16 vs F32 KV cache moves logits by ~0.1), so no engine can be
# required to agree there.
# The threshold is per model. Qwen2.5-0.5B's logits move by at most ~0.3 when
# attention sums run in a different order; SmolLM2-135M is ill-conditioned:
# a 1e-7 difference in one layer's attention output (llama.cpp sums Q·K and
# P·V in another order than frugal) flips 8-bit activation roundings
# downstream and moves its final logits by up to ~0.7 (measured against
# llama.cpp layer by layer), so a gap below 0.5 is a near-tie for it.
N_KEEP = 5
MIN_MARGIN = {"smollm2": 0.5}
DEFAULT_MIN_MARGIN = 0.15
MIN_MARGIN_TOKENS = 32
PROMPTS = [
    ("text", "The capital of France is"),
    ("text", "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n"),
    ("text", "Once upon a time, in a small village by the sea,"),
    ("chatml", "<|im_start|>user\nWhat is 17 * 23? Think step by step.<|im_end|>\n<|im_start|>assistant\n"),
    ("chatml", "<|im_start|>system\nYou are a concise assistant.<|im_end|>\n<|im_start|>user\n"
               "Name three primary colors.<|im_end|>\n<|im_start|>assistant\n"),
    ("text", "The three laws of thermodynamics are"),
    ("text", "import numpy as np\n\n# Compute the mean of a list\ndef mean(xs):\n"),
    ("text", "Water boils at 100 degrees Celsius at sea level because"),
    ("chatml", "<|im_start|>user\nWhat is the capital of Japan?<|im_end|>\n<|im_start|>assistant\n"),
    ("chatml", "<|im_start|>user\nWrite a haiku about autumn leaves.<|im_end|>\n<|im_start|>assistant\n"),
    ("text", "1, 2, 3, 4, 5, 6, 7, 8,"),
    ("chatml", "<|im_start|>user\nExplain photosynthesis in one sentence.<|im_end|>\n<|im_start|>assistant\n"),
    ("text", "The quick brown fox"),
    ("chatml", "<|im_start|>user\nWhat is 2 + 2?<|im_end|>\n<|im_start|>assistant\n"),
    ("chatml", "<|im_start|>user\nTranslate 'thank you' into French.<|im_end|>\n<|im_start|>assistant\n"),
    ("chatml", "<|im_start|>user\nWhat color is the sky on a clear day?<|im_end|>\n<|im_start|>assistant\n"),
    ("text", "Monday, Tuesday, Wednesday,"),
    ("chatml", "<|im_start|>user\nWho wrote Romeo and Juliet?<|im_end|>\n<|im_start|>assistant\n"),
    ("text", "A, B, C, D, E,"),
    ("chatml", "<|im_start|>user\nHow many legs does a spider have?<|im_end|>\n<|im_start|>assistant\n"),
    ("text", "def add(a, b):\n    return"),
]


def greedy(llm: "llama_cpp.Llama", prompt_ids, n):
    llm.reset()
    llm.eval(prompt_ids)
    out, margins = [], []
    for _ in range(n):
        logits = np.array(llm.scores[llm.n_tokens - 1], dtype=np.float64)
        order = np.argsort(-logits, kind="stable")
        tok = int(order[0])
        margins.append(float(logits[order[0]] - logits[order[1]]))
        if tok == llm.token_eos():
            out.append(tok)
            break
        out.append(tok)
        llm.eval([tok])
    return out, margins


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--models", nargs="*", default=list(fetch_models.MODELS))
    args = ap.parse_args()
    for name in args.models:
        path = fetch_models.fetch(name)
        # logits_all: this llama-cpp-python fills `scores` only for rows that
        # were requested; asking for all keeps every step's row available.
        # F32 KV cache and no flash attention: the configuration that
        # corresponds to frugal's engine (float32 K/V, plain softmax attention).
        llm = llama_cpp.Llama(model_path=path, n_ctx=512, n_threads=2, n_batch=512,
                              logits_all=True, verbose=False, seed=0,
                              type_k=0, type_v=0, flash_attn=False)
        add_bos = llm._model.add_bos_token() if hasattr(llm._model, "add_bos_token") else False
        cases = []
        min_margin = MIN_MARGIN.get(name, DEFAULT_MIN_MARGIN)
        for kind, text in PROMPTS:
            ids = llm.tokenize(text.encode("utf-8"), add_bos=add_bos, special=(kind == "chatml"))
            gen, margins = greedy(llm, ids, args.tokens)
            if min(margins[:MIN_MARGIN_TOKENS]) < min_margin or len(cases) >= N_KEEP:
                continue
            cases.append({"kind": kind, "text": text, "parse_special": kind == "chatml",
                          "prompt_ids": ids, "greedy_ids": gen,
                          "top2_margins": [round(m, 4) for m in margins]})
            print(name, kind, repr(llm.detokenize(gen).decode("utf-8", "replace"))[:100])
        rec = {
            "model": os.path.basename(path),
            "sha256": fetch_models.MODELS[name][1],
            "reference": f"llama-cpp-python {llama_cpp.__version__}",
            "n_tokens": args.tokens,
            "selection": f"first {N_KEEP} of the pool with top-2 margin >= {min_margin} "
                         f"over the first {MIN_MARGIN_TOKENS} tokens",
            "llama_settings": "n_ctx 512, type_k/type_v F32, flash_attn off, greedy argmax",
            "add_bos": bool(add_bos),
            "cases": cases,
        }
        stem = os.path.splitext(os.path.basename(path))[0]
        with open(os.path.join(ROOT, "tests", "data", "real", stem + ".json"), "w") as f:
            json.dump(rec, f, indent=1, ensure_ascii=False)
            f.write("\n")


if __name__ == "__main__":
    main()
