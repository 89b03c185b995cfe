#!/usr/bin/env python3
"""frugal vs llama.cpp on one GGUF file, same thread count, printed as Markdown.

    python3 bench/side_by_side.py MODEL.gguf [-t 2] [-p 512] [-n 128] [-r 3] [-d 4096]
        [--kv f16,f32] [--frugal build/frugal]

llama.cpp is llama-cpp-python (llama_cpp.Llama). The script runs under a Python that
has it: the current one, else ~/.cache/frugal/pyref (the project's reference venv),
else ~/.cache/frugal/bench-venv, created on first use with `pip install
llama-cpp-python==0.3.36 numpy gguf` from PyPI (llama.cpp built for this CPU, AMX
left out: see AMX_OFF). It re-executes itself there.

Method (one round per repetition, engines alternating so load swings hit both):
  frugal     `frugal bench MODEL -p P -n N -r 1 -t T -d 0[,D] -o json --no-warmup`
             (a fresh process per round; one untimed warm-up round first; its
             default KV cache, F16, as llama.cpp's; see bench/RESULTS.md).
  llama.cpp  one Llama(n_threads=T, n_threads_batch=T, n_batch=512, type_k/type_v)
             per KV type, loaded once; warm-up eval first. pp: reset, then time
             llm.eval(P random tokens). tg: cache filled to depth once (untimed),
             then per round rewind n_tokens to the depth and time N calls of
             llm.eval([token]).
Also measures memory read bandwidth (bench/bandwidth.cpp, T threads) and prints,
for each tg figure, the roofline fraction t/s x weight bytes read per token /
bandwidth (weight bytes per token: every tensor except the token embedding, of
which one row is read; for a tied output the embedding is read in full).
"""
import argparse
import json
import os
import pathlib
import platform
import random
import shutil
import statistics
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
CACHE = pathlib.Path.home() / ".cache" / "frugal"
# llama.cpp's native build uses Intel AMX wherever the CPU has it, and that path
# crashes (SIGSEGV in ggml_backend_amx_mul_mat, llama.cpp issue #20824) on the
# Sapphire-Rapids-class KVM guest of session 20 on its first matmul, with our
# random-weight files. Building without AMX gives llama.cpp's AVX-512 VNNI
# kernels, the fastest of its paths that run there. GCC keeps explicit -mno-*
# flags over what -march=native implies, whatever their order. Harmless on CPUs
# without AMX. tools/setup_pyref.sh builds the reference venv the same way.
AMX_OFF = "-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"


def ensure_llama_python():
    try:
        import llama_cpp  # noqa: F401
        return
    except ImportError:
        pass
    if os.environ.get("FRUGAL_BENCH_REEXEC"):
        sys.exit("side_by_side: llama_cpp still missing after switching Python")
    py = CACHE / "pyref" / "bin" / "python"
    probe = subprocess.run([str(py), "-c", "import llama_cpp"], capture_output=True) if py.exists() else None
    if probe is None or probe.returncode != 0:
        venv = CACHE / "bench-venv"
        py = venv / "bin" / "python"
        if not py.exists():
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            env = dict(os.environ, CMAKE_ARGS=f"-DCMAKE_C_FLAGS='{AMX_OFF}' "
                                              f"-DCMAKE_CXX_FLAGS='{AMX_OFF}'")
            subprocess.run([str(py), "-m", "pip", "install", "llama-cpp-python==0.3.36", "numpy",
                            "gguf"], check=True, env=env)
    os.environ["FRUGAL_BENCH_REEXEC"] = "1"
    os.execv(str(py), [str(py), *sys.argv])


def weight_bytes_per_token(path):
    import gguf
    r = gguf.GGUFReader(path)
    sizes = {t.name: int(t.n_bytes) for t in r.tensors}
    total = sum(sizes.values())
    embd = sizes.get("token_embd.weight", 0)
    if "output.weight" in sizes:  # untied: the embedding is a lookup of one row
        rows = next(int(t.shape[1]) if len(t.shape) > 1 else 1
                    for t in r.tensors if t.name == "token_embd.weight")
        return total - embd + embd // max(rows, 1)
    return total


def bandwidth_gbs(threads):
    exe = CACHE / "bench-bin" / "bandwidth"
    src = HERE / "bandwidth.cpp"
    if not exe.exists() or exe.stat().st_mtime < src.stat().st_mtime:
        exe.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["g++", "-O3", "-march=native", "-pthread", str(src), "-o", str(exe)], check=True)
    out = subprocess.run([str(exe), str(threads), "10", "1024"], capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def frugal_round(args, depths):
    cmd = [args.frugal, "bench", args.model, "-p", str(args.p), "-n", str(args.n), "-r", "1",
           "-t", str(args.t), "-d", ",".join(map(str, depths)), "-o", "json", "--no-warmup"]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"side_by_side: frugal bench failed: {out.stderr.strip()}")
    return {row["test"]: row["samples_ts"][0] for row in json.loads(out.stdout)}


class LlamaRunner:
    def __init__(self, args, kv, depths):
        import llama_cpp
        ggml_type = {"f16": 1, "f32": 0}[kv]
        self.llm = llama_cpp.Llama(
            model_path=args.model, n_threads=args.t, n_threads_batch=args.t, n_batch=512,
            n_ctx=max(depths) + max(args.p, args.n) + 16, type_k=ggml_type, type_v=ggml_type,
            verbose=False, seed=1234)
        rng = random.Random(1234)
        nv = self.llm.n_vocab()
        self.fill = [rng.randrange(nv) for _ in range(max(depths))]
        self.prompt = [rng.randrange(nv) for _ in range(args.p)]
        self.gen = [rng.randrange(nv) for _ in range(max(args.n, 1))]
        self.args, self.depths = args, depths
        self.llm.reset()
        self.llm.eval(self.prompt[:16] or self.gen[:1])  # warm-up
        self.llm.eval(self.gen[:1])

    def _to_depth(self, d):
        # Eval rewinds the cache to n_tokens first, so rewinding n_tokens to d
        # keeps the first d positions; the fill is done once per depth.
        if self.llm.n_tokens < d or self.llm.input_ids[:d].tolist() != self.fill[:d]:
            self.llm.reset()
            for i in range(0, d, 512):
                self.llm.eval(self.fill[i:min(d, i + 512)])
        self.llm.n_tokens = d

    def round(self):
        res = {}
        for d in self.depths:
            at = f"@d{d}" if d else ""
            if self.args.p:
                self._to_depth(d)
                t0 = time.perf_counter()
                self.llm.eval(self.prompt)
                res[f"pp{self.args.p}{at}"] = self.args.p / (time.perf_counter() - t0)
            if self.args.n:
                self._to_depth(d)
                t0 = time.perf_counter()
                for tok in self.gen[:self.args.n]:
                    self.llm.eval([tok])
                res[f"tg{self.args.n}{at}"] = self.args.n / (time.perf_counter() - t0)
        return res


def fmt(xs):
    if not xs:
        return "–"
    m = statistics.mean(xs)
    sd = statistics.stdev(xs) if len(xs) > 1 else 0.0
    return f"{m:.2f} ± {sd:.2f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("-t", type=int, default=2)
    ap.add_argument("-p", type=int, default=512)
    ap.add_argument("-n", type=int, default=128)
    ap.add_argument("-r", type=int, default=3)
    ap.add_argument("-d", type=int, default=0, help="also test at this depth (e.g. 4096)")
    ap.add_argument("--kv", default="f16,f32", help="llama.cpp KV cache types to run (f16,f32)")
    ap.add_argument("--frugal", default=str(HERE.parent / "build" / "frugal"))
    args = ap.parse_args()
    if args.r < 1 or args.t < 1 or args.p < 0 or args.n < 0 or args.p + args.n == 0 or args.d < 0:
        sys.exit("side_by_side: need -r >= 1, -t >= 1, -p/-n >= 0 (not both 0), -d >= 0")
    kvs = [k for k in args.kv.split(",") if k]
    if not kvs or any(k not in ("f16", "f32") for k in kvs):
        sys.exit(f"side_by_side: --kv '{args.kv}' must list f16 and/or f32")
    if not shutil.which(args.frugal) and not os.access(args.frugal, os.X_OK):
        sys.exit(f"side_by_side: no frugal binary at '{args.frugal}'")
    ensure_llama_python()
    import llama_cpp

    depths = [0] + ([args.d] if args.d else [])
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    bw = bandwidth_gbs(args.t)
    wbytes = weight_bytes_per_token(args.model)

    frugal_round(args, depths)  # warm-up (page cache, first-touch)
    runners = {kv: LlamaRunner(args, kv, depths) for kv in kvs}
    samples = {"frugal": {}, **{f"llama.cpp {kv} KV": {} for kv in kvs}}
    for i in range(args.r):
        for test, ts in frugal_round(args, depths).items():
            samples["frugal"].setdefault(test, []).append(ts)
        for kv, runner in runners.items():
            for test, ts in runner.round().items():
                samples[f"llama.cpp {kv} KV"].setdefault(test, []).append(ts)
        print(f"side_by_side: round {i + 1}/{args.r} done", file=sys.stderr)
    uptime_after = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()

    name = os.path.basename(args.model)
    print(f"### {name}, {args.t} threads\n")
    print(f"- weights read per generated token: {wbytes / 2**30:.3f} GiB; "
          f"read bandwidth ({args.t} threads): {bw:.2f} GB/s "
          f"(roofline: {bw * 1e9 / wbytes:.2f} tokens/s at depth 0)")
    print(f"- llama-cpp-python {llama_cpp.__version__}; {args.r} rounds; "
          f"uptime before: `{uptime}`; after: `{uptime_after}`\n")
    engines = list(samples)
    head = "| test | " + " | ".join(engines) + " | " + " | ".join(
        f"frugal / {e[len('llama.cpp '):]}" for e in engines[1:]) + " | roofline frac. (frugal / llama.cpp f16) |"
    print(head)
    print("|" + " --- |" * (2 + 2 * (len(engines) - 1) + 0) + " --- |")
    for test in samples["frugal"]:
        cells = [fmt(samples[e].get(test, [])) for e in engines]
        fm = statistics.mean(samples["frugal"][test])
        ratios = [f"{fm / statistics.mean(samples[e][test]):.2f}" if samples[e].get(test) else "–"
                  for e in engines[1:]]
        roof = "–"
        if test.startswith("tg"):
            frac = [statistics.mean(samples[e][test]) * wbytes / (bw * 1e9)
                    for e in engines[:2] if samples[e].get(test)]
            roof = " / ".join(f"{f:.2f}" for f in frac)
        print(f"| {test} | " + " | ".join(cells) + " | " + " | ".join(ratios) + f" | {roof} |")


if __name__ == "__main__":
    main()
