#!/usr/bin/env python3
"""Checks the models of a `frugal-train pipeline` run in llama.cpp.

    python3 tools/pipeline_llama_cpp.py RUN_DIR [--frugal build/frugal] [-n 200]
        [--types q8_0 q4_0] [-o RUN_DIR/llama_cpp.md]

For the teacher and the student, as trained (F32) and quantized by
`frugal quantize` to each of --types: both engines answer the run's held-out
problems (RUN_DIR/heldout.jsonl, written by the pipeline) greedily, frugal
through `frugal eval`, llama.cpp through tools/eval_llama_cpp.py (its own
rendering of the model's chat template). Prints, and writes as Markdown, each
file's accuracy in both engines and how many of the greedy replies are
identical byte for byte.

Runs under a Python that has llama_cpp (re-executes itself under
~/.cache/frugal/pyref otherwise, through eval_llama_cpp.py).
"""
import argparse
import json
import os
import pathlib
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent
PYREF = pathlib.Path.home() / ".cache" / "frugal" / "pyref" / "bin" / "python"


def sh(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"pipeline_llama_cpp: {' '.join(map(str, cmd))} failed:\n{r.stderr}")
    return r.stdout


def replies(path):
    with open(path, encoding="utf-8") as f:
        return {j["id"]: j["text"] for j in map(json.loads, f) if j}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("run_dir")
    ap.add_argument("--frugal", default="build/frugal")
    ap.add_argument("-n", type=int, default=200, help="held-out problems to answer")
    ap.add_argument("--types", nargs="*", default=["q8_0", "q4_0"])
    ap.add_argument("-t", "--threads", type=int, default=2)
    ap.add_argument("-o", "--output")
    a = ap.parse_args()
    run = pathlib.Path(a.run_dir)
    problems = run / "heldout.jsonl"
    work = run / "llama_cpp"
    work.mkdir(exist_ok=True)
    python = sys.executable
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        python = str(PYREF)

    rows = []
    for model in ("teacher", "student"):
        files = [("f32", run / f"{model}.gguf")]
        for t in a.types:
            q = run / f"{model}-{t}.gguf"
            sh([a.frugal, "quantize", str(run / f"{model}.gguf"), str(q), t])
            files.append((t, q))
        for t, path in files:
            fr_out, ll_out = work / f"{model}-{t}.frugal.jsonl", work / f"{model}-{t}.llama.jsonl"
            fr = json.loads(sh([a.frugal, "eval", str(path), "--problems", str(problems),
                                "-n", str(a.n), "--temp", "0", "--max-tokens", "96",
                                "-t", str(a.threads), "-c", "160", "--output", str(fr_out),
                                "--json", "-q"]))
            sh([python, str(HERE / "eval_llama_cpp.py"), str(problems), str(path),
                "-o", str(ll_out), "--temp", "0", "--max-tokens", "96",
                "-t", str(a.threads), "-c", "160"])
            # eval_llama_cpp.py answers every problem of the file; keep the first n.
            ll_lines = open(ll_out, encoding="utf-8").read().splitlines()[: a.n]
            with open(ll_out, "w", encoding="utf-8") as f:
                f.write("\n".join(ll_lines) + "\n")
            ll = json.loads(sh([a.frugal, "eval", "--grade", str(ll_out), "--problems",
                                str(problems), "-n", str(a.n), "--json"]))
            a_fr, a_ll = replies(fr_out), replies(ll_out)
            same = sum(1 for k in a_fr if a_ll.get(k) == a_fr[k])
            rows.append((model, t, os.path.getsize(path), fr["accuracy"], ll["accuracy"],
                         same, len(a_fr)))
            print(f"{model} {t}: frugal {100 * fr['accuracy']:.1f} %, llama.cpp "
                  f"{100 * ll['accuracy']:.1f} %, identical greedy replies {same}/{len(a_fr)}",
                  flush=True)

    lines = ["| model | weights | file bytes | frugal accuracy | llama.cpp accuracy | identical greedy replies |",
             "| --- | --- | ---: | ---: | ---: | ---: |"]
    for m, t, size, af, al, same, n in rows:
        lines.append(f"| {m} | {t} | {size} | {100 * af:.1f} % | {100 * al:.1f} % | {same} / {n} |")
    table = "\n".join(lines) + "\n"
    print(table)
    with open(a.output or run / "llama_cpp.md", "w", encoding="utf-8") as f:
        f.write(table)


if __name__ == "__main__":
    main()
