#!/usr/bin/env python3
"""Reference run of `frugal eval` problems through llama.cpp (llama-cpp-python).

    frugal eval --task arith -n 50 --seed 0 --dump-problems problems.jsonl
    python3 tools/eval_llama_cpp.py problems.jsonl MODEL.gguf -o replies.jsonl \
        [--temp 0.6] [--top-p 0.95] [--max-tokens 1024] [-t 2] [-c 4096] [--seed 0] \
        [--frugal build/frugal] [--compare frugal_summary.json] [--resume]
    frugal eval --grade replies.jsonl --problems problems.jsonl

Each problem's exact prompt goes through Llama.create_chat_completion as one user
message; llama-cpp-python renders the model's own chat template (from the GGUF's
tokenizer.chat_template), as frugal does. Sampling matches frugal's chain: temperature,
top-p, and top-k = 0, min-p = 0, repeat penalty 1 (llama-cpp-python's defaults are 40,
0.05 and 1.0, so they are set explicitly). Problem i is sampled with seed + i, like
frugal; the two engines' random streams differ, so replies differ sample by sample and
only the accuracies are comparable, within sampling noise.

Each output line is what `frugal eval --grade` reads: id, text (the raw reply),
starts_in_reasoning (the rendered prompt ends inside <think>), prompt/completion tokens
(llama.cpp's usage), reasoning_tokens (the text up to </think>, re-tokenized: an
approximation where a token straddles the tag), finish_reason, and decode_s /
decode_tokens from llama.cpp's own performance counters (llama_perf_context: t_eval_ms,
n_eval), so tokens/s excludes prompt processing as frugal's does.

With --frugal the script grades its replies with that binary; with --compare FILE (the
`frugal eval ... --json` summary of the same problems) it prints a two-sided
two-proportion z-test of the two accuracies.

Runs under a Python that has llama_cpp; otherwise re-executes itself under
~/.cache/frugal/pyref (the project's reference venv). Never needed to build or test.
"""
import argparse
import json
import math
import os
import pathlib
import subprocess
import sys
import time

PYREF = pathlib.Path.home() / ".cache" / "frugal" / "pyref" / "bin" / "python"


def ensure_llama_python():
    try:
        import llama_cpp  # noqa: F401
        return
    except ImportError:
        pass
    if os.environ.get("FRUGAL_EVAL_REEXEC") or not PYREF.exists():
        sys.exit("eval_llama_cpp: llama_cpp is not importable (pip install llama-cpp-python)")
    os.environ["FRUGAL_EVAL_REEXEC"] = "1"
    os.execv(str(PYREF), [str(PYREF), *sys.argv])


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def two_proportion_test(k1, n1, k2, n2):
    """Two-sided pooled z-test of p1 = p2; returns (z, p_value)."""
    p = (k1 + k2) / (n1 + n2)
    se = math.sqrt(p * (1 - p) * (1 / n1 + 1 / n2))
    if se == 0:
        return 0.0, 1.0
    z = (k1 / n1 - k2 / n2) / se
    return z, math.erfc(abs(z) / math.sqrt(2))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("problems", help="problems file from `frugal eval --dump-problems`")
    ap.add_argument("model", help="GGUF model file")
    ap.add_argument("-o", "--output", required=True, help="replies JSONL for `frugal eval --grade`")
    ap.add_argument("--temp", type=float, default=0.6)
    ap.add_argument("--top-p", type=float, default=0.95)
    ap.add_argument("--max-tokens", type=int, default=2048)
    ap.add_argument("-t", "--threads", type=int, default=2)
    ap.add_argument("-c", "--ctx-size", type=int, default=4096)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--frugal", help="frugal binary: grade the replies with it afterwards")
    ap.add_argument("--compare", help="frugal's --json summary on the same problems: print a z-test")
    ap.add_argument("--resume", action="store_true",
                    help="keep the replies already in --output and run only the problems it lacks "
                         "(each problem keeps its own seed, so a resumed run equals an unbroken one)")
    args = ap.parse_args()

    ensure_llama_python()
    import llama_cpp
    from llama_cpp import Llama
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    problems = read_jsonl(args.problems)
    llm = Llama(model_path=args.model, n_ctx=args.ctx_size, n_threads=args.threads,
                n_threads_batch=args.threads, n_batch=512, verbose=False)
    # Does the rendered prompt open a reasoning block (R1 templates)? Rendered with
    # the model's own template, as create_chat_completion does.
    template = llm.metadata.get("tokenizer.chat_template", "")
    starts_in_reasoning = False
    if template:
        eos = llm._model.token_get_text(llm.token_eos())
        bos = llm._model.token_get_text(llm.token_bos()) if llm.token_bos() >= 0 else ""
        rendered = Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos)(
            messages=[{"role": "user", "content": "x"}]).prompt
        starts_in_reasoning = rendered.rstrip().endswith("<think>")
    engine = f"llama-cpp-python {llama_cpp.__version__}"
    print(f"{engine}, {len(problems)} problems, temp {args.temp}, top-p {args.top_p}, "
          f"max tokens {args.max_tokens}, {args.threads} threads, prompt opens <think>: "
          f"{starts_in_reasoning}", file=sys.stderr)

    done = set()
    if args.resume and os.path.exists(args.output):
        # A line cut short by a kill is dropped and its problem run again.
        kept = []
        with open(args.output, encoding="utf-8") as f:
            for line in f:
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    continue
                kept.append(line if line.endswith("\n") else line + "\n")
                done.add(rec["id"])
        with open(args.output, "w", encoding="utf-8") as f:
            f.writelines(kept)
        print(f"resuming: {len(done)} replies kept", file=sys.stderr)

    ctx = llm._ctx.ctx
    t0 = time.time()
    with open(args.output, "a" if args.resume else "w", encoding="utf-8") as out:
        for i, p in enumerate(problems):
            if p["id"] in done:
                continue
            llama_cpp.llama_perf_context_reset(ctx)
            r = llm.create_chat_completion(
                messages=[{"role": "user", "content": p["prompt"]}],
                temperature=args.temp, top_p=args.top_p, top_k=0, min_p=0.0, typical_p=1.0,
                repeat_penalty=1.0, presence_penalty=0.0, frequency_penalty=0.0,
                max_tokens=args.max_tokens, seed=args.seed + i)
            perf = llama_cpp.llama_perf_context(ctx)
            text = r["choices"][0]["message"]["content"] or ""
            usage = r["usage"]
            reasoning_tokens = 0
            close = text.find("</think>")
            opened = starts_in_reasoning or text.lstrip().startswith("<think>")
            if opened:
                head = text if close < 0 else text[:close + len("</think>")]
                reasoning_tokens = min(usage["completion_tokens"],
                                       len(llm.tokenize(head.encode("utf-8"), add_bos=False, special=True)))
            rec = {
                "id": p["id"],
                "text": text,
                "starts_in_reasoning": starts_in_reasoning,
                "prompt_tokens": usage["prompt_tokens"],
                "completion_tokens": usage["completion_tokens"],
                "reasoning_tokens": reasoning_tokens,
                "finish_reason": r["choices"][0]["finish_reason"] or "stop",
                "decode_s": perf.t_eval_ms / 1000.0,
                "decode_tokens": int(perf.n_eval),
                "engine": engine,
            }
            out.write(json.dumps(rec, ensure_ascii=False) + "\n")
            out.flush()
            rate = perf.n_eval / (perf.t_eval_ms / 1000.0) if perf.t_eval_ms > 0 else 0.0
            # Counts only: the replies stay in the output file.
            print(f"[{i + 1}/{len(problems)}] {usage['completion_tokens']} tokens, {rate:.1f} tok/s, "
                  f"finish {rec['finish_reason']}", file=sys.stderr, flush=True)
    print(f"wrote {args.output} in {time.time() - t0:.0f} s", file=sys.stderr)

    if args.frugal:
        g = subprocess.run([args.frugal, "eval", "--grade", args.output, "--problems", args.problems,
                            "--json"], capture_output=True, text=True, check=True)
        ours = json.loads(g.stdout)
        print(json.dumps(ours))
        if args.compare:
            with open(args.compare, encoding="utf-8") as f:
                theirs = json.loads(f.read())
            z, pv = two_proportion_test(theirs["correct"], theirs["n"], ours["correct"], ours["n"])
            print(f"frugal {theirs['correct']}/{theirs['n']} vs llama.cpp {ours['correct']}/{ours['n']}: "
                  f"two-proportion z = {z:.2f}, two-sided p = {pv:.3f}")


if __name__ == "__main__":
    main()
