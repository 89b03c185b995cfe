#!/usr/bin/env python3
"""Reference token ids for tests/tokenizer_hf_test.cpp and tokenizer_stream_test.cpp.

Encodes a fixed list of strings with Hugging Face `tokenizers` (PyPI) using
  - ../shared/testdata/tokenizers/qwen2/tokenizer.json, with its added tokens
    replaced by those of constructed-vocab-deepseek-r1-qwen.gguf (the R1-distill
    ones; Qwen3's differ), after checking that the GGUF's BPE tokens and merges
    equal the tokenizer.json ones;
  - ../shared/testdata/tokenizers/llama3.1/tokenizer.json as is;
with add_special_tokens=False, once with special-token parsing ("ids") and once
with encode_special_tokens=True ("ids_plain": special tokens as plain text).
Writes tests/data/tokenizer/hf_golden.json.

With --smollm PATH (needs llama-cpp-python), also writes smollm_golden.json:
ids from llama.cpp's own tokenizer on SmolLM2-135M-Instruct.Q4_1.gguf
(llm.tokenize(s.encode(), add_bos=False, special=False)).

Run: ~/.cache/frugal/pyref/bin/python tools/gen_tokenizer_golden.py
"""
import argparse
import json
import os
import sys
import unicodedata

import tokenizers
from tokenizers import Tokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(ROOT, "..", "shared", "testdata")
OUT_DIR = os.path.join(ROOT, "tests", "data", "tokenizer")


def golden_strings():
    s = [
        # English, contractions in all cases
        "Hello world", " Hello world", "Hello, World!", "I've been 'told he's there",
        "I'LL DO IT, YOU'RE SURE? WE'VE SEEN IT, HE'D GO, IT'S ok", "don't DON'T Don'T dOn't",
        "'s 't 're 've 'm 'll 'd", "'S 'T 'RE 'VE 'M 'LL 'D", "it’s curly ’s apostrophe",
        "can't won't shan't y'all'd've", "The quick brown fox jumps over the lazy dog.",
        # Chinese, Japanese, Korean
        "我爱北京天安门", "你好，世界！这是一个测试。", "深度求索的推理模型", "中文 English 混合 text",
        "こんにちは世界", "東京は日本の首都です。", "カタカナとひらがなと漢字", "ｶﾀｶﾅ 半角",
        "안녕하세요 세계", "한국어 텍스트입니다.", "ㄱㄴㄷ ㅏㅑㅓ",
        # Arabic, Hebrew, Hindi, Thai, Russian, Greek
        "مرحبا بالعالم", "العربية: ١٢٣٤٥ أرقام", "שלום עולם", "नमस्ते दुनिया", "हिन्दी में १२३",
        "สวัสดีชาวโลก", "Привет, мир!", "Съешь же ещё этих мягких французских булок", "Γειά σου Κόσμε",
        "ΑΒΓΔ αβγδ ςσ", "Ωμέγα ΐ ΰ ᾳ ῷ",
        # accented Latin, precomposed and decomposed
        "Äpfel Führer Ölçü", "café naïve résumé", "cafe\u0301 nai\u0308ve re\u0301sume\u0301",
        "A\u030angstro\u0308m", "\u1e9b\u0323", "ﬁ ﬂ ligatures", "Ǆ ǅ ǆ", "Zürich Straße", "ÅÉÎÕÜ åéîõü",
        "ñ n\u0303 Ñ N\u0303", "K\u212a Ω\u2126 Å\u212b",
        # emoji
        "🦙", "🦙🦙 llama", "👍🏽 👍🏿", "👨‍👩‍👧‍👦 family", "🏳️‍🌈 flag", "🇩🇪🇯🇵 flags", "❤️ ❤",
        "😀😃😄😁😆", "1️⃣ keycap", "🧑🏻‍💻 coder", "emoji at end 🚀", "🚀start",
        # code
        "def f(x):\n    return x**2\n", "int main() { return 0; }", "for (int i = 0; i < n; ++i) {\n\tsum += a[i];\n}",
        "fn main() -> Result<(), Box<dyn Error>> { Ok(()) }", "const x = async () => await fetch('/api?q=1&r=2');",
        "SELECT * FROM users WHERE id = 42;", "#include <stdio.h>\n", "if x == 1:\n\tpass\nelif y:\n    pass",
        "<div class=\"a\">text</div>", "$HOME/.config && echo \"$PATH\" | grep -v '^#'", "x+=1;y-=2;z*=3;w/=4",
        "λx. x → y ⇒ z", "std::vector<std::pair<int, std::string>> v;", "    indented\n        more\n",
        "{\"key\": [1, 2.5, -3e10, null, true]}", "a_b_c snake_case CamelCase kebab-case",
        # whitespace runs
        "", " ", "  ", "   ", "\t", "\n", "\n\n", "\n\n\n", "\t\n", "\r\n", "\r\n\r\n", "a\r\nb", " \n \n",
        "a  b", "a   b", "a\tb", "a\t\tb", "a \t b", "  leading", "trailing  ", "trailing\n", "mid\n\n\nnewlines",
        "\u00a0nbsp\u00a0", "ideographic\u3000space", "line\u2028sep", "nel\u0085char", "zero\u200bwidth",
        "   \n  \t\r\n  x", "x\n \n \ny",
        # numbers
        "0", "1", "12", "123", "1234", "12345", "123456", "1234567", "12345678", "123456789",
        "1234567890", "3.14159", "1,000,000", "-42", "1e-9", "0x1F", "2024-05-01", "10:30pm", "$1.99", "50%",
        "٣٤٥", "१२३", "①②③", "Ⅻ", "½ ¾", "v1.2.3-rc4", "192.168.0.1",
        # special-token-looking text
        "<|im_start|>user\nhi<|im_end|>", "<|endoftext|>", "<｜User｜>hi<｜Assistant｜>", "<｜User｜>",
        "<｜Assistant｜><think>\nok</think>", "<think>", "</think>", "<think >", "<｜User", "｜User｜>",
        "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>", "<|eot_id|><|eot_id|>",
        "<|reserved_special_token_3|>", "<|EOT|>", "<tool_call>{}</tool_call>", "<｜end▁of▁sentence｜>",
        "<<|eot_id|>>", "text<|endoftext|>text", "<|fim_prefix|>a<|fim_suffix|>b<|fim_middle|>",
        # unusual punctuation and symbols
        "''''''```````\"\"\"\"......!!!!!!??????", "--- === *** ###", "«quotes» „German“ “curly”", "…ellipsis…",
        "a—b–c‐d", "¿Qué? ¡Sí!", "©®™ §¶ †‡", "→←↑↓ ⊂⊃∀∃ ∑∏∫", "°C ±5 ×2 ÷3", "@user #tag",
        "((()))[[[]]]{{{}}}", "~!@#$%^&*()_+`-=", "。、，！？：；「」『』", "·•● ◆◇",
        # valid but unusual UTF-8
        "\u0000nul", "ctl\u0001\u001f\u007f", "\ufeffbom", "\ufffd replacement", "\U0001F600\U0010FFFD",
        "\uffff\U0001fffe", "𝕳𝖊𝖑𝖑𝖔 math", "𐍈 gothic", "\u0301 leading combining", "e\u0301\u0301 double",
        "ſ long s 'ſ", "İstanbul ıi", "ǅungla", "\u200d\u200c joiners",
        # mixed paragraphs
        "The model said: \"我认为答案是 42。\" Then it stopped.",
        "Ich habe 3 Äpfel und 12 Birnen gekauft — insgesamt 15 Früchte!",
        "Résumé: 5 ans d'expérience en C++ et Python; salaire ≥ 50 000 €.",
        "Step 1: compute 2+2=4.\nStep 2: multiply by 10 → 40.\n\nAnswer: **40**",
        "User: what's 7×8?\nAssistant: <think>7×8=56</think>56",
        " ❤️ 🇺🇸 mixed with كلمات عربية and 中文字符 123",
        "Tabs\tand\tspaces  mixed \t \t here",
    ]
    # contractions and words in many cases
    for w in ["they're", "We'Ve", "a'lL", "I'M", "she'D", "it'S", "you'Re"]:
        s.append(w)
        s.append(" " + w.upper())
    # numbers of many lengths, with and without a leading space or letter
    for n in range(1, 25):
        digits = "".join(str((i * 7 + 3) % 10) for i in range(n))
        s.append(digits)
        s.append(" " + digits + "x")
    # whitespace combinations before a word
    for ws in [" ", "  ", "\t", "\n", " \n", "\n ", "\r\n", "\t ", " \t"]:
        s.append(ws + "word" + ws)
    out = []
    for x in s:
        if x not in out:
            out.append(x)
    return out


def r1_distill_added_tokens(gguf_path, n_bpe):
    import gguf  # PyPI gguf (gguf-py)

    r = gguf.GGUFReader(gguf_path)
    toks = r.fields["tokenizer.ggml.tokens"]
    types = r.fields["tokenizer.ggml.token_type"]
    tok_text = [bytes(toks.parts[i]).decode("utf-8") for i in toks.data]
    tok_type = [int(types.parts[i][0]) for i in types.data]
    merges = r.fields["tokenizer.ggml.merges"]
    merge_text = [bytes(merges.parts[i]).decode("utf-8") for i in merges.data]
    added = []
    for i in range(n_bpe, len(tok_text)):
        if tok_type[i] in (3, 4):  # control, user-defined
            added.append({"id": i, "content": tok_text[i], "single_word": False, "lstrip": False,
                          "rstrip": False, "normalized": False, "special": tok_type[i] == 3})
    return tok_text, merge_text, added


def encode_all(tok, strings):
    tok.encode_special_tokens = False
    ids = [tok.encode(x, add_special_tokens=False).ids for x in strings]
    tok.encode_special_tokens = True
    plain = [tok.encode(x, add_special_tokens=False).ids for x in strings]
    tok.encode_special_tokens = False
    return ids, plain


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--smollm", help="path to SmolLM2-135M-Instruct.Q4_1.gguf (needs llama-cpp-python)")
    args = ap.parse_args()
    strings = golden_strings()

    qj = json.load(open(os.path.join(SHARED, "tokenizers/qwen2/tokenizer.json"), encoding="utf-8"))
    vocab = qj["model"]["vocab"]
    n_bpe = len(vocab)
    gguf_path = os.path.join(SHARED, "vocab/constructed-vocab-deepseek-r1-qwen.gguf")
    tok_text, merge_text, added = r1_distill_added_tokens(gguf_path, n_bpe)
    # The constructed GGUF must carry exactly tokenizer.json's BPE part.
    for text, i in vocab.items():
        assert tok_text[i] == text, (i, text, tok_text[i])
    json_merges = [m if isinstance(m, str) else m[0] + " " + m[1] for m in qj["model"]["merges"]]
    assert json_merges == merge_text, "merges differ"
    qj["added_tokens"] = added
    qwen = Tokenizer.from_str(json.dumps(qj))
    llama = Tokenizer.from_file(os.path.join(SHARED, "tokenizers/llama3.1/tokenizer.json"))

    q_ids, q_plain = encode_all(qwen, strings)
    l_ids, l_plain = encode_all(llama, strings)
    doc = {
        "generator": "tools/gen_tokenizer_golden.py",
        "tokenizers_version": tokenizers.__version__,
        "notes": "qwen2: tokenizers/qwen2/tokenizer.json with the R1-distill added tokens of "
                 "constructed-vocab-deepseek-r1-qwen.gguf (BPE tokens and merges checked equal); "
                 "llama3: tokenizers/llama3.1/tokenizer.json. add_special_tokens=False; "
                 "ids_plain with encode_special_tokens=True.",
        "strings": strings,
        "nfc": [unicodedata.normalize("NFC", x) for x in strings],
        "qwen2": {"ids": q_ids, "ids_plain": q_plain},
        "llama3": {"ids": l_ids, "ids_plain": l_plain},
    }
    os.makedirs(OUT_DIR, exist_ok=True)
    with open(os.path.join(OUT_DIR, "hf_golden.json"), "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, separators=(",", ":"))
    print(f"hf_golden.json: {len(strings)} strings")

    if args.smollm:
        import llama_cpp

        llm = llama_cpp.Llama(model_path=args.smollm, vocab_only=True, verbose=False)
        sm = [x for x in strings if "\u0000" not in x][::4]
        ids = [llm.tokenize(x.encode("utf-8"), add_bos=False, special=False) for x in sm]
        with open(os.path.join(OUT_DIR, "smollm_golden.json"), "w", encoding="utf-8") as f:
            json.dump({"generator": "tools/gen_tokenizer_golden.py --smollm",
                       "llama_cpp_python_version": llama_cpp.__version__,
                       "strings": sm, "ids": ids}, f, ensure_ascii=False, separators=(",", ":"))
        print(f"smollm_golden.json: {len(sm)} strings")


if __name__ == "__main__":
    sys.exit(main())
