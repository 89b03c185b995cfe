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

# Plain-text prompts (continued as text) and chat prompts (rendered with the
# model's template by frugal's test, given here already rendered as text so the
# reference does not depend on our renderer; special tokens are parsed).
PROMPTS = [
    ("text", "The capital of France is"),
    ("text", "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n"),
    ("text", "Once upon a time, in a small village by the sea,"),
    ("chatml", "<|im_start|>user\nWhat is 17 * 23? Think step by step.<|im_end|>\n<|im_start|>assistant\n"),
    ("chatml", "<|im_start|>system\nYou are a concise assistant.<|im_end|>\n<|im_start|>user\n"
               "Name three primary colors.<|im_end|>\n<|im_start|>assistant\n"),
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
        llm = llama_cpp.Llama(model_path=path, n_ctx=1024, n_threads=2, n_batch=512,
                              logits_all=False, verbose=False, seed=0)
        add_bos = llm._model.add_bos_token() if hasattr(llm._model, "add_bos_token") else False
        cases = []
        for kind, text in PROMPTS:
            ids = llm.tokenize(text.encode("utf-8"), add_bos=add_bos, special=(kind == "chatml"))
            gen, margins = greedy(llm, ids, args.tokens)
            cases.append({"kind": kind, "text": text, "parse_special": kind == "chatml",
                          "prompt_ids": ids, "greedy_ids": gen,
                          "top2_margins": [round(m, 4) for m in margins]})
            print(name, kind, repr(llm.detokenize(gen).decode("utf-8", "replace"))[:100])
        rec = {
            "model": os.path.basename(path),
            "sha256": fetch_models.MODELS[name][1],
            "reference": f"llama-cpp-python {llama_cpp.__version__}",
            "n_tokens": args.tokens,
            "add_bos": bool(add_bos),
            "cases": cases,
        }
        stem = os.path.splitext(os.path.basename(path))[0]
        with open(os.path.join(ROOT, "tests", "data", "real", stem + ".json"), "w") as f:
            json.dump(rec, f, indent=1, ensure_ascii=False)
            f.write("\n")


if __name__ == "__main__":
    main()
