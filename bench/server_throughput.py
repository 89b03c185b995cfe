#!/usr/bin/env python3
"""Aggregate decode throughput of `frugal serve` with 1, 4 and 8 concurrent
streams (continuous batching), optionally side by side with llama-cpp-python's
OpenAI server on the same model, threads and load.

Each client streams one chat completion of --tokens tokens (ignore_eos, so
every run generates the same count) and reads it with plain http.client;
aggregate tokens/s = all clients' tokens / wall time of the round. Best of
--reps rounds per concurrency.

  python3 bench/server_throughput.py MODEL.gguf [--tokens 128] [-t 2]
  python3 bench/server_throughput.py MODEL.gguf --llama-cpp   # needs llama-cpp-python[server]
"""
import argparse
import concurrent.futures
import http.client
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(port, proc, path):
    for _ in range(600):
        if proc.poll() is not None:
            sys.exit(f"server exited with {proc.returncode}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=1)
            return
        except Exception:
            time.sleep(0.1)
    sys.exit("server did not start")


def one_stream(port, i, n_tokens):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    body = {"model": "m", "messages": [{"role": "user", "content": f"Tell story number {i}."}],
            "max_tokens": n_tokens, "temperature": 0.7, "seed": i, "stream": True,
            "ignore_eos": True}
    c.request("POST", "/v1/chat/completions", json.dumps(body), {"Content-Type": "application/json"})
    text = c.getresponse().read().decode()
    c.close()
    # Count content chunks (one token each in both servers' streams).
    return sum(1 for line in text.splitlines()
               if line.startswith("data: {") and '"content"' in line and '"delta"' in line)


def measure(port, clients, n_tokens, reps):
    """Best round of `reps`: (aggregate tokens/s, requests/s)."""
    best = (0.0, 0.0)
    for _ in range(reps):
        t0 = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(clients) as ex:
            n = sum(ex.map(lambda i: one_stream(port, i, n_tokens), range(clients)))
        dt = time.perf_counter() - t0
        best = max(best, (n / dt, clients / dt))
    return best


def run(name, cmd, port, health, args):
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_healthy(port, proc, health)
        one_stream(port, 0, 8)  # warm up
        return {c: measure(port, c, args.tokens, args.reps) for c in (1, 4, 8)}
    finally:
        proc.terminate()
        proc.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("-t", "--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--frugal", default=os.path.join(ROOT, "build", "frugal"))
    ap.add_argument("--llama-cpp", action="store_true", help="also run llama_cpp.server")
    ap.add_argument("--chat-template", help="frugal's --chat-template (models without one)")
    args = ap.parse_args()

    results = {}
    port = free_port()
    results["frugal"] = run("frugal", [args.frugal, "serve", args.model, "--port", str(port),
                                       "-t", str(args.threads), "--parallel", "8", "-c", "4096"] +
                            (["--chat-template", args.chat_template] if args.chat_template else []),
                            port, "/health", args)
    if args.llama_cpp:
        port = free_port()
        results["llama.cpp"] = run("llama.cpp", [sys.executable, "-m", "llama_cpp.server",
                                                 "--model", args.model, "--port", str(port),
                                                 "--n_threads", str(args.threads), "--n_ctx", "4096",
                                                 # queue concurrent requests instead of
                                                 # aborting the running one (its default)
                                                 "--interrupt_requests", "False"],
                                   port, "/v1/models", args)
    print(f"model {os.path.basename(args.model)}, {args.tokens} tokens per stream, "
          f"{args.threads} threads, best of {args.reps}")
    print("aggregate tokens/s (requests/s)")
    print("| engine | 1 stream | 4 streams | 8 streams | 8 vs 1 |")
    print("|---|---|---|---|---|")
    for name, r in results.items():
        cells = " | ".join(f"{r[c][0]:.1f} ({r[c][1]:.2f})" for c in (1, 4, 8))
        print(f"| {name} | {cells} | {r[8][0] / r[1][0]:.2f}x |")
    if "llama.cpp" in results:
        f, l = results["frugal"], results["llama.cpp"]
        print("| frugal / llama.cpp | " +
              " | ".join(f"{f[c][0] / l[c][0]:.2f}x" for c in (1, 4, 8)) + " | |")


if __name__ == "__main__":
    main()
