#!/usr/bin/env python3
"""Writes the Engram module fixtures and their float64 golden outputs:

  module-v41.gguf    DeepSeek-V4.1 form: fused engram_wkv (F16), F16 table
  module-demo.gguf   paper-demo form, made THROUGH engram/tools/
                     convert_demo_state_dict.py from .npz state dicts named as
                     engram_demo_v1.py names them; Q8_0 table, F32 projections
  module_golden.json per fixture and Engram layer: token ids, hidden states x
                     [T, n_embd] (float32 values), the hashed rows, and
                     x + module(x) from forward_reference.py (float64)

Both fixtures are tiny llama-architecture files that carry only what the
Engram reader needs (no decoder weights). Weights are random and never zero.
The F16 wkv is fed the F16 table's values, so the engine's F16 activation
rounding is exact there; the demo's F32 projections take F32 activations.
Run with the reference env: ~/.cache/engram-desktop/refenv/bin/python
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import gguf
from gguf import GGUFValueType as VT

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO / "engram" / "tools"))
import forward_reference as ref  # noqa: E402
import convert_demo_state_dict as conv  # noqa: E402

ARCH = "llama"
N_EMBD = 64
N_LAYER = 4
RMS_EPS = 1e-5
N_VOCAB = 100
N_CLASSES = 70
LAYER_IDS = [1, 2]
HEADS = 2
KEY_LENGTH = 32           # a multiple of Q8_0's block of 32
MAX_NGRAM = 3
KERNEL = 4
VOCAB_SIZES = [61, 67]    # per-order table sizes: primes start above these
SEED = 20261129
T = 12
SPLITS = [5, 1, 6]        # demo: the same run in pieces must equal the whole


def base_keys(w: gguf.GGUFWriter) -> None:
    w.add_uint32(f"{ARCH}.embedding_length", N_EMBD)
    w.add_uint32(f"{ARCH}.block_count", N_LAYER)
    w.add_uint32(f"{ARCH}.vocab_size", N_VOCAB)
    w.add_float32(f"{ARCH}.attention.layer_norm_rms_epsilon", RMS_EPS)


def make_token_map(rng) -> np.ndarray:
    # every class used; classes numbered in first-seen order as the demo does
    m = np.concatenate([np.arange(N_CLASSES), rng.integers(0, N_CLASSES, N_VOCAB - N_CLASSES)])
    rng.shuffle(m)
    first = {}
    for c in m:
        first.setdefault(int(c), len(first))
    return np.asarray([first[int(c)] for c in m], dtype=np.int64)


def norm_weight(rng) -> np.ndarray:
    return (1.0 + 0.2 * rng.standard_normal(N_EMBD)).astype(np.float32)


def write_v41(path: Path, rng, token_map, pad_id, primes, mults) -> None:
    E = (MAX_NGRAM - 1) * HEADS * KEY_LENGTH
    w = gguf.GGUFWriter(str(path), ARCH)
    base_keys(w)
    for il in LAYER_IDS:
        p = f"blk.{il}."
        rows = sum(primes[il])
        w.add_tensor(p + "engram_embd.weight", rng.standard_normal((rows, KEY_LENGTH)).astype(np.float16))
        # [2*n_embd, E] in NumPy order = ne [E, 2*n_embd]: key rows, then value rows
        w.add_tensor(p + "engram_wkv.weight", (rng.standard_normal((2 * N_EMBD, E)) / np.sqrt(E)).astype(np.float16))
        w.add_tensor(p + "engram_q.weight", norm_weight(rng))
        w.add_tensor(p + "engram_k.weight", norm_weight(rng))
    e = f"{ARCH}.engram."
    w.add_key_value(e + "layer_ids", LAYER_IDS, VT.ARRAY, sub_type=VT.INT32)
    w.add_uint32(e + "head_count", HEADS)
    w.add_uint32(e + "key_length", KEY_LENGTH)
    w.add_uint32(e + "max_ngram_size", MAX_NGRAM)
    w.add_key_value(e + "multipliers", [m for il in LAYER_IDS for m in mults[il]], VT.ARRAY, sub_type=VT.UINT64)
    w.add_key_value(e + "primes", [p for il in LAYER_IDS for p in primes[il]], VT.ARRAY, sub_type=VT.UINT64)
    offs = [int(o) for il in LAYER_IDS for o in np.concatenate([[0], np.cumsum(primes[il])[:-1]])]
    w.add_key_value(e + "offsets", offs, VT.ARRAY, sub_type=VT.UINT64)
    w.add_key_value(e + "token_map", [int(v) for v in token_map], VT.ARRAY, sub_type=VT.INT32)
    w.add_uint32(e + "pad_id", pad_id)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def write_demo(path: Path, tmp: Path, rng, token_map, pad_id, primes, mults) -> None:
    """Through the converter, from state dicts named as engram_demo_v1.py's."""
    E = (MAX_NGRAM - 1) * HEADS * KEY_LENGTH
    base = tmp / "base.gguf"
    w = gguf.GGUFWriter(str(base), ARCH)
    base_keys(w)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    f32 = lambda a: np.asarray(a, dtype=np.float32)  # noqa: E731
    args = []
    for il in LAYER_IDS:
        sd = {
            "multi_head_embedding.embedding.weight": f32(rng.standard_normal((sum(primes[il]), KEY_LENGTH))),
            "short_conv.conv.weight": f32(0.5 * rng.standard_normal((N_EMBD, 1, KERNEL))),
            "short_conv.norms.0.weight": norm_weight(rng),
            "value_proj.weight": f32(rng.standard_normal((N_EMBD, E)) / np.sqrt(E)),
            "value_proj.bias": f32(0.1 * rng.standard_normal(N_EMBD)),
            "key_projs.0.weight": f32(rng.standard_normal((N_EMBD, E)) / np.sqrt(E)),
            "key_projs.0.bias": f32(0.1 * rng.standard_normal(N_EMBD)),
            "norm1.0.weight": norm_weight(rng),
            "norm2.0.weight": norm_weight(rng),
        }
        np.savez(tmp / f"engram_{il}.npz", **sd)
        args += ["--module", f"{il}={tmp / f'engram_{il}.npz'}"]
    hc = {
        "max_ngram_size": MAX_NGRAM, "n_head_per_ngram": HEADS, "kernel_size": KERNEL,
        "token_map": [int(v) for v in token_map], "pad_id": pad_id,
        "layers": {str(il): {"multipliers": mults[il], "primes": primes[il]} for il in LAYER_IDS},
    }
    (tmp / "hash.json").write_text(json.dumps(hc))
    subprocess.run([sys.executable, str(REPO / "engram" / "tools" / "convert_demo_state_dict.py"),
                    "--base", str(base), "--out", str(path), "--hash-config", str(tmp / "hash.json"),
                    "--table-type", "q8_0", "--proj-type", "f32", *args], check=True)


def golden_runs(path: Path, rng, form: str) -> dict:
    f = ref.EngramFile(str(path))
    assert f.form == form, (path, f.form)
    runs = []
    for li, il in enumerate(f.layer_ids):
        tokens = rng.integers(0, N_VOCAB, T)
        x = rng.standard_normal((T, N_EMBD)).astype(np.float32)
        rows, out = ref.run(f, li, tokens, x.astype(np.float64))
        if form == "demo":
            _, out_split = ref.run(f, li, tokens, x.astype(np.float64), SPLITS)
            assert np.max(np.abs(out_split - out)) < 1e-12, "reference: split run differs from the whole"
        runs.append({
            "layer": il,
            "tokens": [int(t) for t in tokens],
            "rows": rows.tolist(),
            "x": [float(v) for v in x.reshape(-1)],   # float32 values, exact in float64
            "out": [float(v) for v in out.reshape(-1)],
            "max_abs_update": float(np.max(np.abs(out - x))),
        })
    return {"file": path.name, "form": form, "runs": runs}


def main() -> int:
    rng = np.random.default_rng(SEED)
    token_map = make_token_map(rng)
    pad_id = int(token_map[57])  # a pad token id, compressed (the demo uses token 0)
    primes = conv.demo_primes(LAYER_IDS, VOCAB_SIZES, MAX_NGRAM, HEADS)
    mults = {il: conv.demo_multipliers(il, SEED, N_CLASSES, MAX_NGRAM) for il in LAYER_IDS}
    v41 = HERE / "module-v41.gguf"
    demo = HERE / "module-demo.gguf"
    write_v41(v41, rng, token_map, pad_id, primes, mults)
    with tempfile.TemporaryDirectory() as d:
        write_demo(demo, Path(d), rng, token_map, pad_id, primes, mults)
    golden = {
        "note": "made by make_module_golden.py with forward_reference.py (float64)",
        "n_embd": N_EMBD, "T": T, "splits": SPLITS,
        "fixtures": [golden_runs(v41, rng, "v41"), golden_runs(demo, rng, "demo")],
    }
    (HERE / "module_golden.json").write_text(json.dumps(golden, separators=(",", ":")) + "\n")
    for p in (v41, demo, HERE / "module_golden.json"):
        print(f"{p.name}: {p.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
