#!/usr/bin/env python3
"""Decode tokens/s against context depth, frugal and llama.cpp, as a PNG (issue 4).

    ~/.cache/frugal/pyref/bin/python bench/plot_depth.py -o OUT.png \\
        --frugal F.json [F.json ...] --llama L.txt [L.txt ...] [--title TEXT]

F.json: `frugal bench MODEL -p 0 -n N -d D,... -o json` output (its tg rows: n_depth, avg_ts,
stddev_ts). L.txt: bench/llama_cpp_depth.py output ("tgN@dD: X t/s" lines, one per round;
several files may give the same depth, every round is kept). Points are means, bars the
spread (frugal: ± stddev over its repetitions; llama.cpp: min..max of its rounds). Also
prints the table and the ratio at every depth both engines have. matplotlib comes from
tools/setup_pyref.sh.
"""
import argparse
import json
import re
import statistics
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def frugal_points(paths):
    pts = {}
    for path in paths:
        with open(path) as f:
            for row in json.load(f):
                if row.get("n_gen", 0) > 0 and row.get("n_prompt", 0) == 0:
                    pts[int(row["n_depth"])] = (float(row["avg_ts"]), float(row["stddev_ts"]))
    return pts


def llama_points(paths):
    rounds = defaultdict(list)
    pat = re.compile(r"^tg\d+@d(\d+):\s*([0-9.]+) t/s")
    for path in paths:
        with open(path) as f:
            for line in f:
                m = pat.match(line.strip())
                if m:
                    rounds[int(m.group(1))].append(float(m.group(2)))
    return {d: v for d, v in rounds.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--out", required=True)
    ap.add_argument("--frugal", nargs="+", required=True)
    ap.add_argument("--llama", nargs="+", required=True)
    ap.add_argument("--title", default="decode (tg) vs context depth")
    a = ap.parse_args()
    fr = frugal_points(a.frugal)
    ll = llama_points(a.llama)
    if not fr or not ll:
        raise SystemExit("no points: check the input files")

    print("| depth | frugal t/s | llama.cpp t/s | frugal / llama.cpp |")
    print("|---|---|---|---|")
    for d in sorted(set(fr) | set(ll)):
        f = f"{fr[d][0]:.2f} ± {fr[d][1]:.2f}" if d in fr else "–"
        lm = statistics.mean(ll[d]) if d in ll else None
        l_txt = " / ".join(f"{x:.2f}" for x in ll[d]) if d in ll else "–"
        ratio = f"{fr[d][0] / lm:.2f}" if d in fr and lm else "–"
        print(f"| {d} | {f} | {l_txt} | {ratio} |")

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=120)
    ds = sorted(fr)
    ax.errorbar(ds, [fr[d][0] for d in ds], yerr=[fr[d][1] for d in ds], marker="o",
                capsize=3, label="frugal")
    ds = sorted(ll)
    means = [statistics.mean(ll[d]) for d in ds]
    lo = [m - min(ll[d]) for m, d in zip(means, ds)]
    hi = [max(ll[d]) - m for m, d in zip(means, ds)]
    ax.errorbar(ds, means, yerr=[lo, hi], marker="s", capsize=3, label="llama.cpp")
    ax.set_xlabel("context depth (cached positions)")
    ax.set_ylabel("decode tokens/s")
    ax.set_title(a.title, fontsize=10)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(a.out)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
