"""Checks hash_reference.py against the paper's own NgramHashMapping.

    ~/.cache/engram-desktop/refenv/bin/python check_against_demo.py PATH/engram_demo_v1.py

Imports the demo with torch/transformers stubbed (its hashing needs only
NumPy and SymPy), builds NgramHashMapping without its tokenizer, and checks:
the prime table sizes equal find_primes(); the rows of 10,000 random
sequences (padding at the start included) equal hash_reference.rows(), for
the demo's own multipliers and for large ones whose products wrap. Dev-only.
"""
import importlib.util
import sys
import types

import numpy as np

from hash_reference import SplitMix64, find_primes, offsets_of, rows


def stub_modules():
    torch = types.ModuleType("torch")
    nn = types.ModuleType("torch.nn")

    class Module:  # the demo subclasses nn.Module at import time
        pass

    nn.Module = Module
    torch.nn = nn
    torch.Tensor = object
    transformers = types.ModuleType("transformers")
    transformers.AutoTokenizer = None
    sys.modules.setdefault("torch", torch)
    sys.modules.setdefault("torch.nn", nn)
    sys.modules.setdefault("transformers", transformers)


def load_demo(path):
    stub_modules()
    spec = importlib.util.spec_from_file_location("engram_demo", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def demo_mapping(mod, layer_ids, max_ngram, heads, rows_per_head, pad_id, multipliers):
    m = object.__new__(mod.NgramHashMapping)
    m.vocab_size_per_ngram = [rows_per_head] * (max_ngram - 1)
    m.max_ngram_size = max_ngram
    m.n_head_per_ngram = heads
    m.layer_ids = layer_ids
    m.pad_id = pad_id
    m.layer_multipliers = {l: np.array(mults, dtype=np.uint64).astype(np.int64) for l, mults in zip(layer_ids, multipliers)}
    m.vocab_size_across_layers = m.calculate_vocab_size_across_layers()
    return m


def demo_multipliers(layer_ids, max_ngram, n_compressed, seed):
    # What NgramHashMapping.__init__ computes (PCG64 from the layer's seed).
    half_bound = max(1, int(np.iinfo(np.int64).max // n_compressed) // 2)
    out = []
    for l in layer_ids:
        g = np.random.default_rng(int(seed + 10007 * int(l)))
        r = g.integers(low=0, high=half_bound, size=(max_ngram,), dtype=np.int64)
        out.append([int(x) for x in (r * 2 + 1)])
    return out


def check(mod, name, layer_ids, max_ngram, heads, rows_per_head, pad_id, n_compressed, multipliers, n_seq, seed):
    m = demo_mapping(mod, layer_ids, max_ngram, heads, rows_per_head, pad_id, multipliers)
    hpl = (max_ngram - 1) * heads
    ours = find_primes(rows_per_head, len(layer_ids), max_ngram, heads)
    theirs = [p for l in layer_ids for order in m.vocab_size_across_layers[l] for p in order]
    assert ours == theirs, f"{name}: primes differ: {ours} vs {theirs}"
    g = SplitMix64(seed)
    n_rows = 0
    for s in range(n_seq):
        T = 1 + g.next() % 64
        seq = [g.next() % n_compressed for _ in range(T)]
        for li, l in enumerate(layer_ids):
            p = ours[li * hpl:(li + 1) * hpl]
            o = offsets_of(p)
            ref = rows(seq, [int(x) & ((1 << 64) - 1) for x in multipliers[li]], p, o, pad_id, max_ngram, heads)
            demo = m._get_ngram_hashes(np.array([seq], dtype=np.int64), l)[0] + np.array(o, dtype=np.int64)
            if not np.array_equal(ref, demo):
                bad = np.argwhere(ref != demo)[0]
                raise SystemExit(f"{name}: sequence {s} layer {l} position {bad[0]} head {bad[1]}: "
                                 f"ours {ref[tuple(bad)]} demo {demo[tuple(bad)]}")
            n_rows += ref.size
    print(f"{name}: primes equal ({len(ours)}), rows equal on {n_seq} sequences ({n_rows} rows)")


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    mod = load_demo(sys.argv[1])
    layer_ids = [1, 15]
    n_compressed = 1000
    check(mod, "demo multipliers", layer_ids, 3, 8, 1000, 5, n_compressed,
          demo_multipliers(layer_ids, 3, n_compressed, seed=0), 10000, 0xC0FFEE)
    big = [[0xFFFFFFFFFFFFFFC5, 0x9E3779B97F4A7C15, 0xD6E8FEB86659FD93, 0x7FFFFFFFFFFFFFFF],
           [0x8000000000000001, 0x123456789ABCDEF1, 0xFEDCBA9876543211, 0xAAAAAAAAAAAAAAAB]]
    check(mod, "wrapping multipliers", layer_ids, 4, 3, 1000, 7, n_compressed, big, 10000, 0xBEEF)
    print("OK: hash_reference.py agrees with", sys.argv[1])


if __name__ == "__main__":
    main()
