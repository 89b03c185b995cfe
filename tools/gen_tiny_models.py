#!/usr/bin/env python3
"""Tiny random-weight models and their Hugging Face reference outputs.

Builds miniature Qwen2ForCausalLM and LlamaForCausalLM models (real shapes in
small: GQA, qkv bias for qwen2, llama3 RoPE scaling and tied output for llama)
with Hugging Face `transformers` in float32, writes each as GGUF with the PyPI
`gguf` package in F32, F16 and BF16 (llama.cpp's tensor names, metadata keys and
conversion facts: llama Q/K rows permuted for interleaved RoPE, qwen2 left as
is for NEOX RoPE, llama3 scaling stored as `rope_freqs.weight`, norms and
biases kept F32), and records the HF forward as golden data:

  tests/data/models/<name>.<dtype>.gguf   the model
  tests/data/models/<name>.<dtype>.logits.f32  HF logits, [T, V] little-endian f32,
                                                for every prompt position
  tests/data/models/<name>.json           prompt ids, greedy ids per dtype, versions

For F16/BF16 the HF reference runs on weights rounded to that type and back, so
the comparison tests our arithmetic, not the rounding.

Run: ~/.cache/frugal/pyref/bin/python tools/gen_tiny_models.py
"""

import json
import math
import os
import sys

import numpy as np
import torch
import transformers
import gguf

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "models")

HIDDEN = 64
N_LAYER = 2
N_HEAD = 4
N_HEAD_KV = 2
N_FF = 192
CTX = 128
PROMPT_LEN = 24
N_GREEDY = 32

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>"]
# A few byte-level merges so the vocabulary is a real BPE one (rank = order).
MERGES = [
    "Ġ t", "h e", "i n", "e r", "a n", "o n", "Ġ a", "r e", "Ġt he", "e n", "a t", "o r",
    "Ġ s", "Ġ w", "e s", "i s", "Ġ o", "i t", "Ġ c", "a l", "Ġ b", "Ġ f", "o u", "in g",
    "Ġ m", "a r", "Ġ p", "e d", "Ġ d", "Ġ h", "l e", "Ġ in", "a s", "i c", "Ġo f", "Ġa n",
    "Ġan d", "Ġt o", "Ġ re", "e t", "t h", "o m", "Ġ l", "i on", "Ġ n", "s t", "r o", "l l",
    "v e", "Ġ e", "Ġ is", "Ġ g", "c t", "Ġ T", "i d", "l y", "o w", "Ġ I", "u t",
]
CHAT_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
    "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n<think>\\n' }}{% endif %}"
)


def bytes_to_unicode():
    """GPT-2's reversible byte -> printable unicode map (a fact of the format)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def vocab():
    b2u = bytes_to_unicode()
    tokens = [b2u[b] for b in range(256)]
    types = [1] * 256
    for m in MERGES:
        a, b = m.split(" ")
        assert a in tokens and b in tokens, m
        tokens.append(a + b)
        types.append(1)
    assert len(set(tokens)) == len(tokens)
    for s in SPECIALS:
        tokens.append(s)
        types.append(3)
    return tokens, types


def permute_for_interleaved_rope(w, n_head):
    """llama.cpp's converter reorders each head's rows of Q/K from HF's
    rotate-half layout (pairs i, i+D/2) to adjacent pairs (2i, 2i+1)."""
    out, rest = w.shape[0], w.shape[1:]
    return w.reshape(n_head, 2, out // n_head // 2, *rest).swapaxes(1, 2).reshape(w.shape)


def llama3_rope_factors(theta, head_dim, rp):
    """Per-pair frequency divisors for llama3 scaling, as llama.cpp's converter
    stores them in `rope_freqs.weight`."""
    factor = rp["factor"]
    low, high = rp["low_freq_factor"], rp["high_freq_factor"]
    old_ctx = rp["original_max_position_embeddings"]
    low_wl, high_wl = old_ctx / low, old_ctx / high
    freqs = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
    out = []
    for f in freqs.tolist():
        wl = 2 * math.pi / f
        if wl < high_wl:
            out.append(1.0)
        elif wl > low_wl:
            out.append(factor)
        else:
            smooth = (old_ctx / wl - low) / (high - low)
            out.append(1.0 / ((1 - smooth) / factor + smooth))
    return np.array(out, dtype=np.float32)


def build_hf(spec, n_vocab, seed):
    torch.manual_seed(seed)
    common = dict(vocab_size=n_vocab, hidden_size=HIDDEN, intermediate_size=N_FF,
                  num_hidden_layers=N_LAYER, num_attention_heads=N_HEAD,
                  num_key_value_heads=N_HEAD_KV, max_position_embeddings=CTX,
                  rms_norm_eps=spec["eps"], tie_word_embeddings=spec["tied"],
                  bos_token_id=n_vocab - 5, eos_token_id=n_vocab - 3,
                  attn_implementation="eager")
    if spec["arch"] == "qwen2":
        cfg = transformers.Qwen2Config(rope_parameters={"rope_type": "default",
                                                        "rope_theta": spec["theta"]}, **common)
        model = transformers.Qwen2ForCausalLM(cfg)
    else:
        rp = dict(spec["rope"], rope_theta=spec["theta"])
        cfg = transformers.LlamaConfig(rope_parameters=rp, attention_bias=False, **common)
        model = transformers.LlamaForCausalLM(cfg)
    model.eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1 and "norm" in name:
                p.copy_(1.0 + 0.1 * torch.randn_like(p))
            elif p.dim() == 1:  # biases
                p.copy_(0.2 * torch.randn_like(p))
            elif "embed_tokens" in name or "lm_head" in name:
                p.copy_(0.5 * torch.randn_like(p))
            else:
                p.copy_(0.2 * torch.randn_like(p))
    return model


def round_weights(model, dtype):
    """Matrices go through `dtype` and back (what the GGUF variant stores)."""
    with torch.no_grad():
        for _, p in model.named_parameters():
            if p.dim() >= 2 and dtype is not None:
                p.copy_(p.to(dtype).to(torch.float32))


def hf_reference(model, prompt):
    with torch.no_grad():
        ids = torch.tensor([prompt], dtype=torch.long)
        logits = model(ids).logits[0].to(torch.float32).numpy()  # [T, V]
        seq = list(prompt)
        greedy = []
        margins = []
        for _ in range(N_GREEDY):  # full recompute each step: no KV cache involved
            last = model(torch.tensor([seq], dtype=torch.long)).logits[0, -1]
            top2 = torch.topk(last, 2).values
            margins.append(float(top2[0] - top2[1]))
            nxt = int(torch.argmax(last))
            greedy.append(nxt)
            seq.append(nxt)
    s = np.sort(logits, axis=1)
    margins += (s[:, -1] - s[:, -2]).tolist()
    return logits, greedy, min(margins)


def write_gguf(path, spec, model, tokens, types, ftype):
    arch = spec["arch"]
    w = gguf.GGUFWriter(path, arch)
    w.add_name(spec["name"])
    w.add_file_type({"F32": 0, "F16": 1, "BF16": 32}[ftype])
    w.add_context_length(CTX)
    w.add_embedding_length(HIDDEN)
    w.add_block_count(N_LAYER)
    w.add_feed_forward_length(N_FF)
    w.add_head_count(N_HEAD)
    w.add_head_count_kv(N_HEAD_KV)
    w.add_layer_norm_rms_eps(spec["eps"])
    w.add_rope_freq_base(spec["theta"])
    w.add_rope_dimension_count(HIDDEN // N_HEAD)
    w.add_vocab_size(len(tokens))
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("gpt2")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(MERGES)
    w.add_bos_token_id(len(tokens) - 5)
    w.add_eos_token_id(len(tokens) - 3)
    w.add_add_bos_token(False)
    w.add_chat_template(CHAT_TEMPLATE)

    def put(name, t):
        a = t.detach().to(torch.float32).numpy()
        if a.ndim == 1 or ftype == "F32":
            w.add_tensor(name, a.astype(np.float32))
        elif ftype == "F16":
            w.add_tensor(name, a.astype(np.float16))
        else:
            q = gguf.quants.quantize(a, gguf.GGMLQuantizationType.BF16)
            w.add_tensor(name, q, raw_dtype=gguf.GGMLQuantizationType.BF16)

    sd = model.state_dict()
    put("token_embd.weight", sd["model.embed_tokens.weight"])
    if arch == "llama":
        rf = llama3_rope_factors(spec["theta"], HIDDEN // N_HEAD, spec["rope"])
        w.add_tensor("rope_freqs.weight", rf)
    for i in range(N_LAYER):
        p = f"model.layers.{i}."
        q = sd[p + "self_attn.q_proj.weight"]
        k = sd[p + "self_attn.k_proj.weight"]
        if arch == "llama":
            q = permute_for_interleaved_rope(q, N_HEAD)
            k = permute_for_interleaved_rope(k, N_HEAD_KV)
        put(f"blk.{i}.attn_norm.weight", sd[p + "input_layernorm.weight"])
        put(f"blk.{i}.attn_q.weight", q)
        put(f"blk.{i}.attn_k.weight", k)
        put(f"blk.{i}.attn_v.weight", sd[p + "self_attn.v_proj.weight"])
        if arch == "qwen2":
            put(f"blk.{i}.attn_q.bias", sd[p + "self_attn.q_proj.bias"])
            put(f"blk.{i}.attn_k.bias", sd[p + "self_attn.k_proj.bias"])
            put(f"blk.{i}.attn_v.bias", sd[p + "self_attn.v_proj.bias"])
        put(f"blk.{i}.attn_output.weight", sd[p + "self_attn.o_proj.weight"])
        put(f"blk.{i}.ffn_norm.weight", sd[p + "post_attention_layernorm.weight"])
        put(f"blk.{i}.ffn_gate.weight", sd[p + "mlp.gate_proj.weight"])
        put(f"blk.{i}.ffn_up.weight", sd[p + "mlp.up_proj.weight"])
        put(f"blk.{i}.ffn_down.weight", sd[p + "mlp.down_proj.weight"])
    put("output_norm.weight", sd["model.norm.weight"])
    if not spec["tied"]:
        put("output.weight", sd["lm_head.weight"])
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


SPECS = [
    # Qwen2: biased QKV, NEOX RoPE, untied output.
    dict(name="tiny-qwen2", arch="qwen2", theta=1e6, eps=1e-6, tied=False, seed=1235),
    # Llama: llama3 RoPE scaling with a small original context so all three
    # frequency bands (kept, smoothed, divided by factor) occur; tied output.
    dict(name="tiny-llama", arch="llama", theta=10000.0, eps=1e-5, tied=True, seed=4321,
         rope={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
               "high_freq_factor": 4.0, "original_max_position_embeddings": 64}),
]
DTYPES = {"F32": None, "F16": torch.float16, "BF16": torch.bfloat16}


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    tokens, types = vocab()
    n_vocab = len(tokens)
    for spec in SPECS:
        rng = np.random.default_rng(spec["seed"])
        prompt = [int(x) for x in rng.integers(0, n_vocab, PROMPT_LEN)]
        meta = dict(generator="tools/gen_tiny_models.py", torch=torch.__version__,
                    transformers=transformers.__version__, numpy=np.__version__,
                    gguf=__import__("importlib.metadata").metadata.version("gguf"),
                    arch=spec["arch"], n_vocab=n_vocab, n_embd=HIDDEN, n_layer=N_LAYER,
                    n_head=N_HEAD, n_head_kv=N_HEAD_KV, n_ff=N_FF, context_length=CTX,
                    prompt=prompt, variants={})
        for ftype, dt in DTYPES.items():
            model = build_hf(spec, n_vocab, spec["seed"])
            round_weights(model, dt)
            logits, greedy, margin = hf_reference(model, prompt)
            base = f"{spec['name']}.{ftype.lower()}"
            write_gguf(os.path.join(OUT_DIR, base + ".gguf"), spec, model, tokens, types, ftype)
            logits.astype("<f4").tofile(os.path.join(OUT_DIR, base + ".logits.f32"))
            meta["variants"][ftype] = dict(gguf=base + ".gguf", logits=base + ".logits.f32",
                                           logits_shape=list(logits.shape), greedy=greedy,
                                           min_top2_margin=margin,
                                           logit_range=float(logits.max() - logits.min()))
            # Argmax comparisons are meaningful only when the top two logits are
            # far apart compared with float32 reordering error (~1e-5 here).
            assert margin > 2e-3, f"{base}: near-tie {margin}; pick another seed"
            print(f"{base}: greedy {greedy[:8]}... min top-2 margin {margin:.4g} "
                  f"range {logits.max() - logits.min():.3g}", file=sys.stderr)
        with open(os.path.join(OUT_DIR, spec["name"] + ".json"), "w") as f:
            json.dump(meta, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
