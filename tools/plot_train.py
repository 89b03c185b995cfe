#!/usr/bin/env python3
"""Draws the curves of a `frugal-train pipeline` run from its CSV files.

    ~/.cache/frugal/pyref/bin/python tools/plot_train.py RUN_DIR [--out DIR]

Writes pretrain.png (loss per step of both models), grpo.png (sampled reward
and accuracy per GRPO step, held-out greedy accuracy at each evaluation, share
of replies that reason, mean completion length) and distill.png (the student's
loss). matplotlib comes from tools/setup_pyref.sh.
"""
import argparse
import csv
import json
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def col(rs, key):
    return [float(r[key]) if r[key] != "" else None for r in rs]


def pairs(rs, x, y):
    xs, ys = [], []
    for r in rs:
        if r[y] != "":
            xs.append(float(r[x]))
            ys.append(float(r[y]))
    return xs, ys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("run_dir")
    ap.add_argument("--out", help="directory for the PNGs (default: RUN_DIR)")
    a = ap.parse_args()
    out = a.out or a.run_dir
    os.makedirs(out, exist_ok=True)
    summary = {}
    sp = os.path.join(a.run_dir, "summary.json")
    if os.path.exists(sp):
        with open(sp) as f:
            summary = json.load(f)

    pre = rows(os.path.join(a.run_dir, "pretrain.csv"))
    fig, ax = plt.subplots(figsize=(7, 4))
    for model in ("teacher", "student"):
        rs = [r for r in pre if r["model"] == model]
        ax.plot(col(rs, "step"), col(rs, "loss"), label=model, linewidth=0.8)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss per reply token")
    ax.set_title("Pretraining on synthetic additions (R1 format)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(out, "pretrain.png"), dpi=120)

    g = rows(os.path.join(a.run_dir, "grpo.csv"))
    fig, axes = plt.subplots(3, 1, figsize=(7, 9), sharex=True)
    ax = axes[0]
    ax.plot(*pairs(g, "step", "mean_reward"), label="sampled reward", linewidth=0.8)
    ax.plot(*pairs(g, "step", "accuracy"), label="sampled accuracy", linewidth=0.8)
    ax.plot(*pairs(g, "step", "heldout_accuracy"), "o-", label="held-out accuracy (greedy)")
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel("share")
    ax.legend(loc="lower right")
    ax.set_title("GRPO on the teacher")
    ax = axes[1]
    ax.plot(*pairs(g, "step", "reasoned"), label="sampled replies that reason", linewidth=0.8)
    ax.plot(*pairs(g, "step", "heldout_reasoned"), "o-", label="held-out replies that reason")
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel("share")
    ax.legend(loc="lower right")
    ax = axes[2]
    ax.plot(*pairs(g, "step", "mean_completion_tokens"), label="sampled", linewidth=0.8)
    ax.plot(*pairs(g, "step", "heldout_tokens"), "o-", label="held-out")
    ax.set_ylabel("completion tokens")
    ax.set_xlabel("GRPO step")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(os.path.join(out, "grpo.png"), dpi=120)

    d = rows(os.path.join(a.run_dir, "distill.csv"))
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(col(d, "step"), col(d, "loss"), linewidth=0.8)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss per reply token")
    title = "Student fine-tuned on the teacher's correct replies"
    if summary:
        t = summary["grpo"]["heldout"]["accuracy"]
        s = summary["distill"]["heldout"]["accuracy"]
        title += f"\nheld-out accuracy: teacher {100 * t:.1f} %, student {100 * s:.1f} %"
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "distill.png"), dpi=120)


if __name__ == "__main__":
    main()
