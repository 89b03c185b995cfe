#!/usr/bin/env python3
"""llama.cpp decode speed after a filled context, for comparing with `frugal bench -d D`.

    ~/.cache/frugal/pyref/bin/python bench/llama_cpp_depth.py MODEL.gguf DEPTH N [THREADS]

Loads MODEL with llama-cpp-python (n_batch 512, F16 KV, its defaults otherwise), fills the
cache with DEPTH random token ids in batches of 512 (timed, printed as prefill t/s), then
twice rewinds to DEPTH and times N single-token evals (tg N @ d DEPTH), then the same from an
empty cache (tg N @ d0). bench/side_by_side.py -d does the same alternating with frugal but
re-fills frugal's cache every round, which at depth 4096 costs minutes per round on 2 cores.
"""
import random
import sys
import time

import llama_cpp


def main():
    path, depth, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    threads = int(sys.argv[4]) if len(sys.argv) > 4 else 2
    llm = llama_cpp.Llama(model_path=path, n_ctx=depth + n + 16, n_threads=threads,
                          n_threads_batch=threads, n_batch=512, verbose=False)
    rng = random.Random(1)
    fill = [rng.randrange(1000, 100000) for _ in range(depth)]
    t0 = time.time()
    for i in range(0, depth, 512):
        llm.eval(fill[i:i + 512])
    dt = time.time() - t0
    print(f"fill {depth}: {dt:.1f} s ({depth / dt:.2f} t/s)", flush=True)
    for _ in range(2):
        llm.n_tokens = depth
        t0 = time.time()
        for _ in range(n):
            llm.eval([rng.randrange(1000, 100000)])
        print(f"tg{n}@d{depth}: {n / (time.time() - t0):.2f} t/s", flush=True)
    llm.n_tokens = 0
    t0 = time.time()
    for _ in range(n):
        llm.eval([rng.randrange(1000, 100000)])
    print(f"tg{n}@d0: {n / (time.time() - t0):.2f} t/s", flush=True)


if __name__ == "__main__":
    main()
