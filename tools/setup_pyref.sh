#!/usr/bin/env bash
# Creates the reference venv (~/.cache/frugal/pyref) that the golden-file
# generators and the side-by-side benchmarks use: llama.cpp through
# llama-cpp-python (with its OpenAI server), Hugging Face transformers and
# tokenizers, gguf-py. Pinned to the versions the committed golden files and
# results were made with. Never needed to build or test frugal (CI does not
# run it). The llama-cpp-python wheel is built from source by pip (a few
# minutes; needs cmake and a compiler, which scripts/setup.sh installs).
set -euo pipefail
venv="${FRUGAL_PYREF:-$HOME/.cache/frugal/pyref}"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q --upgrade pip
# llama.cpp without Intel AMX: its AMX matmul crashes on the AMX host of
# session 20 (llama.cpp issue #20824; bench/side_by_side.py, AMX_OFF). GCC keeps
# these -mno-* over -march=native's choices; harmless without AMX.
amx_off="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
export CMAKE_ARGS="-DCMAKE_C_FLAGS='$amx_off' -DCMAKE_CXX_FLAGS='$amx_off'"
# torch: transformers' float32 reference forward passes (PyPI's wheel, CUDA
# libs unused); matplotlib: tools/plot_train.py.
"$venv/bin/pip" install -q \
  "llama-cpp-python[server]==0.3.36" "gguf==0.19.0" "numpy==2.4.6" "Jinja2==3.1.6" \
  "tokenizers==0.23.3" "transformers==5.23.0" "safetensors==0.8.0" \
  "torch==2.15.0" \
  "matplotlib==3.11.2"
"$venv/bin/python" -c "import llama_cpp, transformers, gguf; print('pyref ready:', '$venv')"
