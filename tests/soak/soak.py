#!/usr/bin/env python3
"""Loopback load and soak test for `frugal serve` (issue 6). Not part of CI.

Starts `frugal serve MODEL` on a free loopback port (or attaches to a running
server with --url and --pid), then runs --clients concurrent clients for
--duration seconds. Each client loops over a random mix of streaming and
non-streaming chat and text completions; a fraction of them (--disconnect)
hang up in the middle (mid-stream, or before the reply of a non-streaming
request). A 429 (queue full) is answered by waiting its Retry-After. Every --sample seconds the server's RSS, swap, threads and open
files (/proc/<pid>/status, /proc/<pid>/fd) and its /metrics gauges are
recorded.

At the end it waits for the server to go idle and checks that every slot is
free and the queue empty; it reports errors, p50/p99 latency (time to first
token and total), and the RSS trend after warm-up in % per hour (least-squares
slope over the mean). Output in --out: samples.csv, requests.csv,
summary.json, and a plot of memory over time (memory.png with matplotlib,
else memory.svg drawn with the standard library).

Exit status 0 when the server survived, no request failed (a deliberate
disconnect or a 429 from a full queue is not a failure) and all slots were
free at the end; 1 otherwise.

Example (10 minutes, 8 clients on 2 slots, niced):
  nice -n 19 python3 tests/soak/soak.py --model ~/.cache/frugal/models/SmolLM2-135M-Instruct.Q4_1.gguf \
      --parallel 2 --clients 8 --duration 600 --out soak-out
Stdlib only.
"""
import argparse
import csv
import http.client
import json
import math
import os
import random
import socket
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROMPTS = [
    "What is {a} + {b}?", "Name {a} animals that live in the sea.", "Write a haiku about rain.",
    "Explain why the sky is blue in {a} sentences.", "Count from {a} to {b}.",
    "Give me a short recipe with {a} ingredients.", "Translate 'good morning' into French.",
    "What is the capital of France? Answer in {a} words.",
]


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--frugal", default=os.path.join(ROOT, "build", "frugal"))
    p.add_argument("--model", default=os.path.expanduser(
        "~/.cache/frugal/models/SmolLM2-135M-Instruct.Q4_1.gguf"))
    p.add_argument("--url", help="attach to a running server (needs --pid)")
    p.add_argument("--pid", type=int, help="pid of the attached server, for its RSS")
    p.add_argument("--parallel", type=int, default=2, help="server slots (--parallel)")
    p.add_argument("--clients", type=int, default=0, help="concurrent clients (default 4x slots)")
    p.add_argument("--threads", type=int, default=2, help="server compute threads (-t)")
    p.add_argument("--ctx", type=int, default=2048, help="server context (-c)")
    p.add_argument("--duration", type=float, default=600, help="seconds of load")
    p.add_argument("--warmup", type=float, default=0.2,
                   help="fraction of the duration excluded from the memory trend")
    p.add_argument("--sample", type=float, default=2.0, help="seconds between samples")
    p.add_argument("--max-tokens", type=int, default=48, help="largest max_tokens per request")
    p.add_argument("--disconnect", type=float, default=0.2, help="fraction of clients hanging up")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", default="soak-out")
    a = p.parse_args()
    if a.clients <= 0:
        a.clients = 4 * a.parallel
    if a.url and not a.pid:
        p.error("--url needs --pid (the server's process id, for its memory)")
    return a


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(a):
    port = free_port()
    log = open(os.path.join(a.out, "server.log"), "wb")
    # The queue holds every client beyond the slots, so the load is
    # clients-in-flight, not refusals.
    cmd = [a.frugal, "serve", a.model, "--port", str(port), "-t", str(a.threads), "-c",
           str(a.ctx), "--parallel", str(a.parallel), "--queue", str(a.clients), "--metrics"]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    base = f"127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            sys.exit(f"soak: frugal serve exited early (see {log.name})")
        try:
            if get(base, "/health")[0] == 200:
                return proc, base
        except OSError:
            pass
        time.sleep(0.2)
    proc.kill()
    sys.exit("soak: server did not become healthy in 120 s")


def get(base, path, timeout=10):
    host, port = base.split(":")
    c = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def proc_stats(pid):
    out = {"rss_kb": 0, "swap_kb": 0, "threads": 0, "fds": 0}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k == "VmRSS":
                out["rss_kb"] = int(v.split()[0])
            elif k == "VmSwap":
                out["swap_kb"] = int(v.split()[0])
            elif k == "Threads":
                out["threads"] = int(v)
    out["fds"] = len(os.listdir(f"/proc/{pid}/fd"))
    return out


def gauges(base):
    status, body = get(base, "/metrics")
    out = {}
    if status != 200:
        return out
    for line in body.decode().splitlines():
        if line.startswith("#") or "{" in line:
            continue
        k, _, v = line.partition(" ")
        try:
            out[k] = float(v)
        except ValueError:
            pass
    return out


class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.rows = []

    def add(self, **row):
        with self.lock:
            self.rows.append(row)


def one_request(base, rng, a, t0):
    """Runs one random request; returns a row for requests.csv."""
    kind = rng.choice(["chat_stream", "chat", "completion_stream", "completion"])
    stream = kind.endswith("_stream")
    hang_up = rng.random() < a.disconnect
    text = rng.choice(PROMPTS).format(a=rng.randint(2, 9), b=rng.randint(10, 99))
    body = {"max_tokens": rng.randint(4, a.max_tokens), "temperature": 0.7, "stream": stream}
    if kind.startswith("chat"):
        path, body["messages"] = "/v1/chat/completions", [{"role": "user", "content": text}]
    else:
        path, body["prompt"] = "/v1/completions", text
    row = {"t": round(time.time() - t0, 3), "kind": kind, "status": 0, "outcome": "",
           "ttft_s": "", "total_s": "", "events": 0}
    host, port = base.split(":")
    c = http.client.HTTPConnection(host, int(port), timeout=300)
    start = time.perf_counter()
    try:
        c.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json"})
        if hang_up and not stream:
            # Leave before the reply: the server must finish or drop the job
            # and free its slot either way.
            time.sleep(rng.uniform(0, 0.5))
            row["outcome"] = "disconnect"
            return row
        r = c.getresponse()
        row["status"] = r.status
        if r.status == 429:
            # A polite client: wait as told before the next request.
            r.read()
            row["outcome"] = "busy"
            time.sleep(min(10.0, float(r.getheader("Retry-After") or 1)))
            return row
        if r.status != 200:
            row["outcome"] = f"error_http_{r.status}"
            row["detail"] = r.read()[:200].decode(errors="replace")
            return row
        if not stream:
            j = json.loads(r.read())
            assert j["choices"][0]["finish_reason"] in ("stop", "length")
            row["total_s"] = round(time.perf_counter() - start, 4)
            row["outcome"] = "ok"
            return row
        stop_after = rng.randint(1, 6) if hang_up else None
        done = False
        while True:
            line = r.readline()
            if not line:
                break
            line = line.strip()
            if not line.startswith(b"data: "):
                continue
            if line == b"data: [DONE]":
                done = True
                break
            json.loads(line[6:])  # every event must be one JSON object
            row["events"] += 1
            if row["ttft_s"] == "":
                row["ttft_s"] = round(time.perf_counter() - start, 4)
            if stop_after is not None and row["events"] >= stop_after:
                row["outcome"] = "disconnect"
                return row  # the finally below drops the connection mid-stream
        row["total_s"] = round(time.perf_counter() - start, 4)
        row["outcome"] = "ok" if done else "error_stream_cut"
        return row
    except (OSError, http.client.HTTPException, ValueError, KeyError, AssertionError) as e:
        row["outcome"] = "error_" + type(e).__name__
        row["detail"] = str(e)[:200]
        return row
    finally:
        c.close()


def client(i, base, a, stop_at, rec, t0):
    rng = random.Random(a.seed * 1000 + i)
    while time.time() < stop_at:
        rec.add(client=i, **one_request(base, rng, a, t0))


def sampler(pid, base, a, stop, rec, t0):
    while not stop.is_set():
        row = {"t": round(time.time() - t0, 2)}
        try:
            row.update(proc_stats(pid))
            g = gauges(base)
            row["slots_active"] = g.get("frugal_slots_active", "")
            row["queue"] = g.get("frugal_queue_length", "")
            row["tokens_total"] = g.get("frugal_tokens_generated_total", "")
        except (OSError, http.client.HTTPException) as e:
            row["error"] = str(e)[:100]
        rec.add(**row)
        stop.wait(a.sample)


def percentile(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")


def slope_per_hour(points):
    """Least-squares slope of (t, y) in y-units per hour."""
    n = len(points)
    if n < 3:
        return float("nan")
    mt = sum(t for t, _ in points) / n
    my = sum(y for _, y in points) / n
    den = sum((t - mt) ** 2 for t, _ in points)
    return 3600 * sum((t - mt) * (y - my) for t, y in points) / den if den else float("nan")


def write_csv(path, rows):
    keys = []
    for r in rows:
        keys += [k for k in r if k not in keys]
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        w.writerows(rows)


def plot(samples, warm_t, out):
    pts = [(s["t"], s["rss_kb"] / 1024) for s in samples if "rss_kb" in s]
    swap = [(s["t"], s["swap_kb"] / 1024) for s in samples if "swap_kb" in s]
    if len(pts) < 2:
        return None
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(9, 4))
        ax.plot(*zip(*pts), label="RSS")
        ax.plot(*zip(*swap), label="swap")
        ax.axvline(warm_t, color="gray", linestyle=":", label="end of warm-up")
        ax.set_xlabel("seconds")
        ax.set_ylabel("MiB")
        ax.set_title("frugal serve memory during the soak")
        ax.legend()
        path = os.path.join(out, "memory.png")
        fig.savefig(path, dpi=100, bbox_inches="tight")
        return path
    except ImportError:
        pass
    # No matplotlib: a plain SVG line chart.
    W, H, L, B = 900, 360, 60, 40
    t_max = max(t for t, _ in pts) or 1
    y_max = max(y for _, y in pts + swap) * 1.1 or 1

    def xy(t, y):
        return L + (W - L - 20) * t / t_max, H - B - (H - B - 20) * y / y_max

    def line(ps, color):
        return (f'<polyline fill="none" stroke="{color}" stroke-width="1.5" points="' +
                " ".join(f"{x:.1f},{y:.1f}" for x, y in (xy(t, v) for t, v in ps)) + '"/>')

    wx = xy(warm_t, 0)[0]
    ticks = "".join(
        f'<text x="{L - 6}" y="{xy(0, v)[1] + 4:.1f}" text-anchor="end">{v:.0f}</text>'
        for v in [y_max * k / 4 for k in range(5)])
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
           f'font-family="sans-serif" font-size="11">'
           f'<rect width="{W}" height="{H}" fill="white"/>'
           f'<text x="{W / 2}" y="14" text-anchor="middle">frugal serve memory (MiB) over '
           f'{t_max:.0f} s: RSS (blue), swap (red); warm-up ends at the dotted line</text>'
           f'<line x1="{L}" y1="{H - B}" x2="{W - 20}" y2="{H - B}" stroke="black"/>'
           f'<line x1="{L}" y1="20" x2="{L}" y2="{H - B}" stroke="black"/>{ticks}'
           f'<text x="{W - 20}" y="{H - B + 16}" text-anchor="end">{t_max:.0f} s</text>'
           f'<line x1="{wx:.1f}" y1="20" x2="{wx:.1f}" y2="{H - B}" stroke="gray" '
           f'stroke-dasharray="3,3"/>{line(pts, "blue")}{line(swap, "red")}</svg>')
    path = os.path.join(out, "memory.svg")
    with open(path, "w") as f:
        f.write(svg)
    return path


def main():
    a = parse_args()
    os.makedirs(a.out, exist_ok=True)
    proc = None
    if a.url:
        base, pid = a.url.replace("http://", "").rstrip("/"), a.pid
    else:
        proc, base = start_server(a)
        pid = proc.pid
    t0 = time.time()
    reqs, samples = Recorder(), Recorder()
    stop = threading.Event()
    sam = threading.Thread(target=sampler, args=(pid, base, a, stop, samples, t0), daemon=True)
    sam.start()
    stop_at = t0 + a.duration
    clients = [threading.Thread(target=client, args=(i, base, a, stop_at, reqs, t0), daemon=True)
               for i in range(a.clients)]
    for c in clients:
        c.start()
    for c in clients:
        c.join()
    load_end = time.time() - t0
    # Idle: every slot must come free and the queue drain (disconnected
    # non-streaming jobs may still be finishing their tokens).
    idle, g = False, {}
    deadline = time.time() + 60
    while time.time() < deadline:
        g = gauges(base)
        if g.get("frugal_slots_active") == 0 and g.get("frugal_queue_length") == 0:
            idle = True
            break
        time.sleep(0.5)
    time.sleep(2 * a.sample)  # a few idle samples after the load
    stop.set()
    sam.join()
    alive = proc.poll() is None if proc else os.path.exists(f"/proc/{pid}")
    if proc:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()

    rows, srows = reqs.rows, samples.rows
    write_csv(os.path.join(a.out, "requests.csv"), rows)
    write_csv(os.path.join(a.out, "samples.csv"), srows)
    outcomes = {}
    for r in rows:
        outcomes[r["outcome"]] = outcomes.get(r["outcome"], 0) + 1
    errors = [r for r in rows if r["outcome"].startswith("error")]
    ok = [r for r in rows if r["outcome"] == "ok"]
    total = [r["total_s"] for r in ok if r["total_s"] != ""]
    ttft = [r["ttft_s"] for r in ok if r["ttft_s"] != ""]
    warm_t = a.warmup * a.duration
    mem = [(s["t"], s["rss_kb"]) for s in srows if "rss_kb" in s and warm_t <= s["t"] <= load_end]
    mean_rss = sum(y for _, y in mem) / len(mem) if mem else float("nan")
    slope = slope_per_hour(mem)
    rss_all = [s["rss_kb"] for s in srows if "rss_kb" in s]
    summary = {
        "duration_s": round(load_end, 1), "clients": a.clients, "slots": a.parallel,
        "requests": len(rows), "outcomes": outcomes, "errors": len(errors),
        "error_examples": errors[:5],
        "latency_total_s": {"p50": percentile(total, 0.5), "p99": percentile(total, 0.99),
                            "n": len(total)},
        "ttft_s": {"p50": percentile(ttft, 0.5), "p99": percentile(ttft, 0.99), "n": len(ttft)},
        "rss_mib": {"start": rss_all[0] / 1024 if rss_all else None,
                    "max": max(rss_all) / 1024 if rss_all else None,
                    "end": rss_all[-1] / 1024 if rss_all else None,
                    "mean_after_warmup": mean_rss / 1024},
        "rss_trend_after_warmup_pct_per_hour": (100 * slope / mean_rss
                                                if mem and not math.isnan(slope) else None),
        "swap_max_kb": max((s.get("swap_kb", 0) for s in srows), default=0),
        "threads_max": max((s.get("threads", 0) for s in srows), default=0),
        "fds": {"first": srows[0].get("fds") if srows else None,
                "last": srows[-1].get("fds") if srows else None},
        "slots_free_at_end": idle, "final_gauges": g, "server_alive_at_end": alive,
        "tokens_generated": g.get("frugal_tokens_generated_total"),
    }
    summary["plot"] = plot(srows, warm_t, a.out)
    with open(os.path.join(a.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
    print(json.dumps(summary, indent=2))
    return 0 if alive and not errors and idle else 1


if __name__ == "__main__":
    sys.exit(main())
