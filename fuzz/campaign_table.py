#!/usr/bin/env python3
"""Sums build-fuzz/campaign/log.tsv (written by fuzz/campaign.sh) per harness
into the Markdown table of ROBUSTNESS.md."""
import collections
import pathlib
import sys

log = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else
                   pathlib.Path(__file__).resolve().parents[1] / "build-fuzz/campaign/log.tsv")
agg = collections.OrderedDict()
for line in log.read_text().splitlines():
    f = line.split("\t")
    if len(f) != 7:
        continue
    t, _, wall, cpu, ex, cov, rc = f
    a = agg.setdefault(t, dict(chunks=0, wall=0.0, cpu=0, ex=0, cov="?", rc=0))
    a["chunks"] += 1
    a["wall"] += float(wall)
    a["cpu"] += int(cpu)
    a["ex"] += int(ex) if ex.isdigit() else 0
    a["cov"] = cov
    a["rc"] = max(a["rc"], int(rc))
print("| harness | chunks | wall | CPU | executions | exec per CPU-s | libFuzzer `cov` | findings |")
print("|---|---|---|---|---|---|---|---|")
for t, a in agg.items():
    row = (f"| `fuzz_{t}` | {a['chunks']} | {a['wall'] / 60:.0f} min | {a['cpu'] / 60:.1f} min | "
           f"{a['ex']:,} | {a['ex'] / max(a['cpu'], 1):,.0f} | {a['cov']} | "
           f"{'none' if a['rc'] == 0 else 'see artifacts'} |")
    print(row.replace(",", " "))
