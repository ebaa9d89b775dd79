"""Writes hash_golden.json: per-sequence digests of hash_reference.rows() for
10,000 random sequences (lengths 1..64, made by SplitMix64 identically in
tests/engram/test_engram_hash.cpp, so they are not stored), plus the full
rows of the first 5 sequences. Run with the reference env:
    ~/.cache/engram-desktop/refenv/bin/python tests/reference/engram/make_hash_golden.py
"""
import json
import os

import numpy as np

from hash_reference import SplitMix64, find_primes, offsets_of, rows, MASK64

HERE = os.path.dirname(os.path.abspath(__file__))

N_SEQ = 10000
SEQ_SEED = 0x5EED0005
N_COMPRESSED = 1000
MAX_NGRAM = 4
HEADS = 3
N_LAYERS = 2
ROWS_PER_HEAD = 1000
PAD_ID = 7
# Layer 0: the reference's kind (odd, below INT64_MAX / n_compressed), so no
# product overflows. Layer 1: large odd values, some above 2^63, so products
# wrap and the mix is negative as int64: the floor modulo matters.
MULTIPLIERS = [
    [2 * 1234567891 + 1, 2 * 4611686018427387 + 1, 2 * 77777777777 + 1, 2 * 3 + 1],
    [0xFFFFFFFFFFFFFFC5, 0x9E3779B97F4A7C15, 0xD6E8FEB86659FD93, 0x7FFFFFFFFFFFFFFF],
]

FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3


def digest(row_arrays):
    """FNV-1a over 64-bit words: h ^= row (as uint64); h *= prime."""
    h = FNV_OFFSET
    for a in row_arrays:
        for v in a.reshape(-1).tolist():
            h ^= v & MASK64
            h = (h * FNV_PRIME) & MASK64
    return h


def sequences():
    g = SplitMix64(SEQ_SEED)
    for _ in range(N_SEQ):
        n = 1 + g.next() % 64
        yield [g.next() % N_COMPRESSED for _ in range(n)]


def main():
    hpl = (MAX_NGRAM - 1) * HEADS
    primes = find_primes(ROWS_PER_HEAD, N_LAYERS, MAX_NGRAM, HEADS)
    offsets = []
    for l in range(N_LAYERS):
        offsets += offsets_of(primes[l * hpl:(l + 1) * hpl])
    digests, first = [], []
    for i, seq in enumerate(sequences()):
        per_layer = [rows(seq, MULTIPLIERS[l], primes[l * hpl:(l + 1) * hpl], offsets[l * hpl:(l + 1) * hpl],
                          PAD_ID, MAX_NGRAM, HEADS) for l in range(N_LAYERS)]
        digests.append("%016x" % digest(per_layer))
        if i < 5:
            first.append({"compressed": seq, "rows": [r.tolist() for r in per_layer]})
    out = {
        "comment": "made by make_hash_golden.py from hash_reference.py",
        "n_sequences": N_SEQ, "seq_seed": SEQ_SEED, "n_compressed": N_COMPRESSED,
        "max_ngram": MAX_NGRAM, "heads": HEADS, "n_layers": N_LAYERS, "rows_per_head": ROWS_PER_HEAD,
        "pad_id": PAD_ID, "multipliers": [[str(m) for m in l] for l in MULTIPLIERS],
        "primes": primes, "offsets": offsets,
        "first": first, "digests": digests,
    }
    with open(os.path.join(HERE, "hash_golden.json"), "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")
    print("wrote hash_golden.json:", N_SEQ, "digests, primes", primes)


if __name__ == "__main__":
    main()
