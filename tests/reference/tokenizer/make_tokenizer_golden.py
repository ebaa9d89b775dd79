#!/usr/bin/env python3
"""Writes the tokenizer golden fixtures: llama.cpp's own tokenizer (through
llama-cpp-python 0.3.16, vocab_only) tokenizes a fixed set of strings for each
vocabulary, and the ids, the pieces and the detokenized text are saved as one
small JSON per vocabulary. Our tokenizer must reproduce them exactly.

Run:  /root/.cache/engram-desktop/refenv/bin/python make_tokenizer_golden.py
(after scripts/fetch-test-data.sh and scripts/fetch-model.sh)."""

import ctypes
import json
import os
import sys

import llama_cpp

HERE = os.path.dirname(os.path.abspath(__file__))


def cache_dir():
    if os.environ.get("ENGRAM_CACHE_DIR"):
        return os.environ["ENGRAM_CACHE_DIR"]
    if os.environ.get("XDG_CACHE_HOME"):
        return os.path.join(os.environ["XDG_CACHE_HOME"], "engram-desktop")
    return os.path.join(os.path.expanduser("~"), ".cache", "engram-desktop")


# name of the fixture -> GGUF path
def vocabularies():
    c = cache_dir()
    out = {"smollm2": os.environ.get("ENGRAM_TEST_MODEL",
                                     os.path.join(c, "models", "SmolLM2-135M-Instruct.Q4_1.gguf"))}
    for v in VOCABS:
        out[v] = os.path.join(c, "vocab", "ggml-vocab-%s.gguf" % v)
    return out


VOCABS = ["llama-bpe", "qwen2", "gpt-2", "llama-spm", "deepseek-llm", "deepseek-coder",
          "starcoder", "refact", "falcon", "mpt", "phi-3", "command-r"]

LONG_WORD = "pneumonoultramicroscopicsilicovolcanoconiosis" * 6

# (text, parse_special). Each text is also run with the other parse_special
# value when it contains '<' (special tokens written in text).
STRINGS = [
    "",
    " ",
    "  ",
    "   ",
    "\t",
    "\n",
    "\n\n",
    " \n",
    "\t\t\n \n  x",
    "Hello world",
    " Hello world",
    "Hello World!",
    "hello  world   with    runs     of      spaces",
    "trailing spaces   ",
    "   leading spaces",
    "line one\nline two\r\nline three\rfour",
    "tabs\tbetween\twords\t\t",
    "a\n\n\nb\n \n c",
    "1",
    "12",
    "123",
    "1234",
    "12345678901234567890",
    "3.14159 2,718,281 -42 +7 1e10 0x1F",
    "Version 1.2.3-rc4 released on 2024-06-01 at 13:45.",
    "I'm sure you'll see they've done it, he'd say; it's ours, we're here.",
    "I'M SURE YOU'LL SEE THEY'VE DONE IT. IT'S OURS, WE'RE HERE",
    "don't 'quote' \"double\" `back`",
    "def add(a, b):\n    return a + b\n",
    "for (int i = 0; i < n; ++i) { sum += v[i]; }",
    "    if x:\n        y = {'k': [1, 2, 3]}\n",
    "#include <stdio.h>\nint main(void) { printf(\"%d\\n\", 42); }",
    "<html><body class=\"x\">&amp; &lt;tag&gt;</body></html>",
    "https://example.com/path?query=1&b=two#frag",
    "user@example.org, +1 (555) 123-4567",
    "$100 + 20% = €120 ~ ¥ £ ^_^ | \\ / @ #hashtag",
    "...!!!???,,,;;;:::---___===+++",
    "café naïve résumé façade coöperate",
    "Ünïcödé ÀÉÎÕÜ ßẞ æøå",
    "e\u0301 a\u0300 n\u0303 combining: o\u0308\u0304",
    "Z\u0351\u036b\u0343\u036a\u0302\u036b\u033d\u034f\u0334\u0319alg\u0327o\u0341",
    "中文测试：你好，世界！",
    "日本語のテキストです。カタカナとひらがな。",
    "한국어 텍스트입니다",
    "Привет, мир! Ёжик в тумане.",
    "Γειά σου Κόσμε",
    "مرحبا بالعالم ١٢٣",
    "שלום עולם",
    "नमस्ते दुनिया १२३",
    "สวัสดีชาวโลก",
    "emoji 😀😃😄 👍🏽 ❤️ 🇫🇷",
    "family 👨‍👩‍👧‍👦 and 🏳️‍🌈 ZWJ",
    "🦙🦙🦙 llama",
    "\u00a0nbsp\u2003em space\u3000ideographic",
    "zero\u200bwidth\u200djoiner\ufeffbom",
    "math ∑∫√∞≠≤≥ ⁴²³ ½ ⅔ Ⅻ",
    "control \x01\x02\x1b[31m red \x1b[0m",
    "mixed English和中文with日本語",
    LONG_WORD,
    "a" * 200,
    "ab " * 60,
    "1" * 50,
    "<|im_start|>user\nhi<|im_end|>",
    "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>assistant\n",
    "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>",
    "<s>[INST] hi [/INST]</s>",
    "<|endoftext|>",
    "text <|endoftext|> more",
    "<|user|>\nhi<|end|>\n<|assistant|>",
    "<unk> <s> </s>",
    "<|im_start|><|im_start|>x<|im_end|>",
    "not special: <|im_start and im_end|>",
    "<<SYS>>\nsystem\n<</SYS>>",
    "The quick brown fox jumps over the lazy dog. " * 4,
]


# Byte strings that are not valid UTF-8: llama.cpp reads BPE input as code
# points (bad bytes -> U+FFFD) and SPM input byte by byte.
BYTE_STRINGS = [
    b"\xff",
    b"abc\x80def",
    b"\xe4\xbd",
    b"\xe4\xbd hello",
    b"\xc0\xaf overlong",
    b"\xf0\x9f\x98",
    b"x\xed\xa0\x80y surrogate",
    b"\xf8\x88\x80\x80\x80 five bytes",
    b"a\x00b nul",
    b"\xfe\xff\xfe",
]


def put_bytes(obj, key, data):
    """Stores text as a JSON string, or as key + "_hex" when it is not UTF-8."""
    try:
        obj[key] = data.decode("utf-8")
    except UnicodeDecodeError:
        obj[key + "_hex"] = data.hex()


def main():
    llama_cpp.llama_backend_init()
    only = set(sys.argv[1:])
    for name, path in vocabularies().items():
        if only and name not in only:
            continue
        if not os.path.exists(path):
            sys.exit("missing %s: run scripts/fetch-test-data.sh / scripts/fetch-model.sh" % path)
        llm = llama_cpp.Llama(model_path=path, vocab_only=True, verbose=False)
        vocab = llm._model.vocab
        n_vocab = llama_cpp.llama_vocab_n_tokens(vocab)

        def piece(tok, special):
            buf = (ctypes.c_char * 512)()
            n = llama_cpp.llama_token_to_piece(vocab, tok, buf, 512, 0, special)
            assert 0 <= n <= 512
            return bytes(buf[:n])

        def detok(toks, remove_special, unparse_special):
            arr = (llama_cpp.llama_token * max(1, len(toks)))(*toks)
            size = 4096 + 64 * len(toks)
            buf = (ctypes.c_char * size)()
            n = llama_cpp.llama_detokenize(vocab, arr, len(toks), buf, size,
                                           remove_special, unparse_special)
            assert 0 <= n <= size
            return bytes(buf[:n])

        cases = []
        used = set()
        for text in [t.encode("utf-8") for t in STRINGS] + BYTE_STRINGS:
            variants = [False, True] if b"<" in text else [False]
            for parse_special in variants:
                for add_special in [True, False]:
                    ids = llm.tokenize(text, add_bos=add_special, special=parse_special)
                    used.update(ids)
                    case = {
                        "add_special": add_special,
                        "parse_special": parse_special,
                        "ids": ids,
                    }
                    put_bytes(case, "text", text)
                    # Detokenized text; the variants only where they differ.
                    plain = detok(ids, False, False)
                    put_bytes(case, "detok", plain)
                    special = detok(ids, False, True)
                    if special != plain:
                        put_bytes(case, "detok_special", special)
                    removed = detok(ids, True, False)
                    if removed != plain:
                        put_bytes(case, "detok_remove_special", removed)
                    cases.append(case)
        eog = [t for t in range(n_vocab) if llama_cpp.llama_vocab_is_eog(vocab, t)]
        control = [t for t in range(n_vocab) if llama_cpp.llama_vocab_is_control(vocab, t)]
        out = {
            "generator": "llama-cpp-python %s (llama.cpp tokenizer), vocab_only" % llama_cpp.__version__,
            "vocab": name,
            "file": os.path.basename(path),
            "n_vocab": n_vocab,
            "bos": llama_cpp.llama_vocab_bos(vocab),
            "eos": llama_cpp.llama_vocab_eos(vocab),
            "add_bos": bool(llama_cpp.llama_vocab_get_add_bos(vocab)),
            "add_eos": bool(llama_cpp.llama_vocab_get_add_eos(vocab)),
            "eog": eog,
            "control": control,
            # Pieces as hex: a piece may be part of a UTF-8 sequence.
            "pieces": {str(t): piece(t, False).hex() for t in sorted(used)},
            "pieces_special": {str(t): piece(t, True).hex() for t in sorted(used)
                               if piece(t, True) != piece(t, False)},
            "cases": cases,
        }
        dst = os.path.join(HERE, "%s.json" % name)
        with open(dst, "w") as f:
            json.dump(out, f, ensure_ascii=True, separators=(",", ":"))
            f.write("\n")
        print("%s: %d cases -> %s" % (name, len(cases), dst))
        del llm


if __name__ == "__main__":
    main()
