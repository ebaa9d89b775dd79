"""Writes the token map golden of SmolLM2-135M-Instruct: what the paper's
CompressedTokenizer (engram_demo_v1.py) computes with HF `tokenizers`.

    ~/.cache/engram-desktop/refenv/bin/python make_token_map_golden.py [MODEL.gguf]

The tokenizer is rebuilt from the GGUF's vocabulary and merges (byte-level
BPE with a ByteLevel decoder; CONTROL tokens as special AddedTokens,
USER_DEFINED as plain AddedTokens), then for each id: text = decode([id],
skip_special_tokens=False); text containing U+FFFD -> the raw vocabulary
string, else the normalised text (or the text if that is empty); compressed
ids in first-seen order. Output:
  smollm2_token_map.json  n_vocab, n_classes, sha256 of the int32 LE map
  smollm2_token_map.txt   one line per token id: "+" when the id opens a new
                          class (= the next class number), else its class
Dev-only: CI reads the files, never runs this.
"""
import hashlib
import json
import os
import sys

import gguf
import numpy as np
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_MODEL = os.path.expanduser("~/.cache/engram-desktop/models/SmolLM2-135M-Instruct.Q4_1.gguf")


def field_strings(r, key):
    f = r.fields[key]
    return [bytes(f.parts[i]).decode("utf-8") for i in f.data]


def field_ints(r, key):
    f = r.fields[key]
    return [int(f.parts[i][0]) for i in f.data]


def build_tokenizer(path):
    r = gguf.GGUFReader(path)
    tokens = field_strings(r, "tokenizer.ggml.tokens")
    types = field_ints(r, "tokenizer.ggml.token_type")
    merges = [tuple(m.split(" ", 1)) for m in field_strings(r, "tokenizer.ggml.merges")]
    vocab = {t: i for i, t in enumerate(tokens)}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    tok.decoder = decoders.ByteLevel()
    special = [AddedToken(tokens[i], special=True) for i in range(len(tokens)) if types[i] == 3]
    user = [AddedToken(tokens[i], special=False) for i in range(len(tokens)) if types[i] == 4]
    tok.add_special_tokens(special)
    tok.add_tokens(user)
    return tok, len(tokens)


# The normaliser of engram_demo_v1.py's CompressedTokenizer, step for step.
SENTINEL = "\uE000"
NORMALIZER = normalizers.Sequence([
    normalizers.NFKC(),
    normalizers.NFD(),
    normalizers.StripAccents(),
    normalizers.Lowercase(),
    normalizers.Replace(Regex(r"[ \t\r\n]+"), " "),
    normalizers.Replace(Regex(r"^ $"), SENTINEL),
    normalizers.Strip(),
    normalizers.Replace(SENTINEL, " "),
])


def lookup_table(tok, n_vocab):
    key2new = {}
    table = np.empty(n_vocab, dtype=np.int32)
    for tid in range(n_vocab):
        text = tok.decode([tid], skip_special_tokens=False)
        if "\ufffd" in text:
            key = tok.id_to_token(tid)
        else:
            norm = NORMALIZER.normalize_str(text)
            key = norm if norm else text
        nid = key2new.setdefault(key, len(key2new))
        table[tid] = nid
    return table, len(key2new)


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_MODEL
    tok, n_vocab = build_tokenizer(path)
    assert tok.get_vocab_size(with_added_tokens=True) == n_vocab
    table, n_classes = lookup_table(tok, n_vocab)
    lines, top = [], -1
    for v in table.tolist():
        if v == top + 1:
            lines.append("+")
            top = v
        else:
            lines.append(str(v))
    with open(os.path.join(HERE, "smollm2_token_map.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    meta = {
        "comment": "made by make_token_map_golden.py from " + os.path.basename(path),
        "n_vocab": n_vocab,
        "n_classes": n_classes,
        "sha256_int32_le": hashlib.sha256(table.astype("<i4").tobytes()).hexdigest(),
    }
    with open(os.path.join(HERE, "smollm2_token_map.json"), "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    print(meta)


if __name__ == "__main__":
    main()
