#!/usr/bin/env python3
"""Float64 NumPy re-implementation of the Engram module forward (DESIGN.md §4,
hc = 1), both forms, hashing included, reading an Engram GGUF with gguf-py.

It is the arbiter the C++ module (engram/src/module.cpp) is checked against:
the table and the projection weights are taken as the file stores them,
dequantized (what the C++ side sees), and everything after that is computed
in float64. Written from DESIGN.md §4 and engram_demo_v1.py's semantics:

  c = token_map[ids], positions before 0 are pad_id
  mix_n(t) = (c[t]*m0) ^ (c[t-1]*m1) ^ ... (n terms, int64, wrapping)
  row of head j of order n = offset_j + (mix_n(t) mod p_j)      (non-negative)
  e = the rows, order-2 heads first, concatenated         [T, E]
  V41:  kv = e @ wkv^T, key = kv[:, :n_embd], value = kv[:, n_embd:]
  demo: key = e @ Wk^T + bk, value = e @ Wv^T + bv
  q = RMSNorm(x) * q_norm, k = RMSNorm(key) * k_norm        (eps: the file's)
  s = <q, k> / sqrt(n_embd), gate = sigmoid(sign(s) * sqrt(max(|s|, 1e-6)))
  v = gate * value
  demo: u = RMSNorm(v) * conv_norm, y_t = sum_k w[:, k] * u_{t-(K-1-k)*dil}
        (u_{<0} = 0, dil = max_ngram_size; torch's depthwise Conv1d with
        left padding (K-1)*dil, cropped), v += SiLU(y)
  out = x + v

Dev-only (needs numpy and gguf-py); CI reads only the goldens it produced.
Usage: forward_reference.py FILE.gguf --tokens 3,1,4,1,5   (prints the rows
and, for random x from --seed, the output's first values of every layer).
"""
from __future__ import annotations

import argparse
import math
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as QT


def _field(reader: gguf.GGUFReader, path: str, key: str):
    f = reader.fields.get(key)
    if f is None:
        raise ValueError(f"{path}: key {key} missing")
    return f.contents()


def tensor_f64(t) -> np.ndarray:
    """A tensor as float64, shaped in NumPy order (reversed GGUF ne)."""
    shape = tuple(int(d) for d in reversed(t.shape))
    if t.tensor_type in (QT.F32, QT.F16, QT.F64):
        a = np.asarray(t.data, dtype=np.float64)
    else:
        a = gguf.quants.dequantize(np.asarray(t.data), t.tensor_type).astype(np.float64)
    return a.reshape(shape)


class EngramFile:
    """The Engram configuration and tensors of one GGUF, in float64."""

    def __init__(self, path: str):
        r = gguf.GGUFReader(path)
        self.path = path
        arch = _field(r, path, "general.architecture")
        k = lambda name: _field(r, path, f"{arch}.{name}")  # noqa: E731
        self.n_embd = int(k("embedding_length"))
        # C++ reads the float32 key as float: use exactly that value.
        self.eps = float(np.float32(k("attention.layer_norm_rms_epsilon")))
        self.layer_ids = [int(v) for v in k("engram.layer_ids")]
        self.head_count = int(k("engram.head_count"))
        self.key_length = int(k("engram.key_length"))
        self.max_ngram = int(k("engram.max_ngram_size"))
        n_l = len(self.layer_ids)
        hpl = (self.max_ngram - 1) * self.head_count
        mult = [int(v) for v in k("engram.multipliers")]
        primes = [int(v) for v in k("engram.primes")]
        offsets = [int(v) for v in k("engram.offsets")]
        assert len(mult) == n_l * self.max_ngram and len(primes) == n_l * hpl and len(offsets) == n_l * hpl
        self.multipliers = [mult[i * self.max_ngram:(i + 1) * self.max_ngram] for i in range(n_l)]
        self.primes = [primes[i * hpl:(i + 1) * hpl] for i in range(n_l)]
        self.offsets = [offsets[i * hpl:(i + 1) * hpl] for i in range(n_l)]
        self.token_map = np.asarray(k("engram.token_map"), dtype=np.int64)
        self.pad_id = int(k("engram.pad_id"))
        tensors = {t.name: t for t in r.tensors}
        self.form = "demo" if f"blk.{self.layer_ids[0]}.engram_key.weight" in tensors else "v41"
        self.conv_kernel = int(k("engram.conv_kernel_size")) if self.form == "demo" else 0
        self.layers = []
        for il in self.layer_ids:
            get = lambda name: tensor_f64(tensors[f"blk.{il}.{name}"])  # noqa: E731
            L = {
                "table": get("engram_embd.weight"),                     # [rows, key_length]
                "q_norm": get("engram_q.weight").reshape(-1),          # [n_embd]
                "k_norm": get("engram_k.weight").reshape(-1),
            }
            if self.form == "v41":
                L["wkv"] = get("engram_wkv.weight")                    # [2*n_embd, E]
            else:
                L["wk"] = get("engram_key.weight")                     # [n_embd, E]
                L["bk"] = get("engram_key.bias").reshape(-1)
                L["wv"] = get("engram_value.weight")
                L["bv"] = get("engram_value.bias").reshape(-1)
                L["conv"] = get("engram_conv.weight")                  # [n_embd, K]
                L["conv_norm"] = get("engram_conv_norm.weight").reshape(-1)
            self.layers.append(L)

    @property
    def heads_per_layer(self) -> int:
        return (self.max_ngram - 1) * self.head_count

    def compress(self, tokens) -> np.ndarray:
        return self.token_map[np.asarray(tokens, dtype=np.int64)]

    def rows(self, li: int, compressed: np.ndarray) -> np.ndarray:
        """[T, heads_per_layer] rows, offsets included, order-2 heads first."""
        c = np.asarray(compressed, dtype=np.int64)
        T = len(c)
        shifted = [np.concatenate([np.full(s, self.pad_id, np.int64), c])[:T] for s in range(self.max_ngram)]
        m = np.asarray([np.uint64(v).astype(np.int64) for v in self.multipliers[li]], dtype=np.int64)
        out = []
        with np.errstate(over="ignore"):
            h = 0
            for n in range(2, self.max_ngram + 1):
                mix = shifted[0] * m[0]
                for j in range(1, n):
                    mix = np.bitwise_xor(mix, shifted[j] * m[j])
                for _ in range(self.head_count):
                    out.append(self.offsets[li][h] + (mix % np.int64(self.primes[li][h])))
                    h += 1
        return np.stack(out, axis=1)

    def gather(self, li: int, rows: np.ndarray) -> np.ndarray:
        table = self.layers[li]["table"]
        return table[rows].reshape(rows.shape[0], -1)                  # [T, E]


def rms_norm(x: np.ndarray, w: np.ndarray, eps: float) -> np.ndarray:
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


def module_forward(f: EngramFile, li: int, x: np.ndarray, e: np.ndarray, pos0: int = 0,
                   history: np.ndarray | None = None) -> np.ndarray:
    """x + module(x) for positions pos0..pos0+T. history [n_ctx, n_embd] holds
    the demo form's conv inputs of earlier positions and receives these."""
    L = f.layers[li]
    n = f.n_embd
    x = np.asarray(x, dtype=np.float64)
    if f.form == "v41":
        kv = e @ L["wkv"].T
        key, value = kv[:, :n], kv[:, n:]
    else:
        key = e @ L["wk"].T + L["bk"]
        value = e @ L["wv"].T + L["bv"]
    q = rms_norm(x, L["q_norm"], f.eps)
    k = rms_norm(key, L["k_norm"], f.eps)
    s = np.sum(q * k, axis=-1) / math.sqrt(n)
    gate = 1.0 / (1.0 + np.exp(-(np.sign(s) * np.sqrt(np.maximum(np.abs(s), 1e-6)))))
    v = gate[:, None] * value
    if f.form == "demo":
        T = x.shape[0]
        if history is None:
            history = np.zeros((pos0 + T, n))
        history[pos0:pos0 + T] = rms_norm(v, L["conv_norm"], f.eps)
        K, dil = f.conv_kernel, f.max_ngram
        y = np.zeros_like(v)
        for i in range(T):
            t = pos0 + i
            for kk in range(K):
                p = t - (K - 1 - kk) * dil
                if p >= 0:
                    y[i] += L["conv"][:, kk] * history[p]
        v = v + y / (1.0 + np.exp(-y))
    return x + v


def run(f: EngramFile, li: int, tokens, x: np.ndarray, splits=None):
    """Rows and x + module(x) of a whole sequence from position 0, optionally
    in pieces of the given lengths (sharing the conv history)."""
    rows = f.rows(li, f.compress(tokens))
    e = f.gather(li, rows)
    T = len(tokens)
    splits = splits or [T]
    assert sum(splits) == T
    history = np.zeros((T, f.n_embd))
    out, p = [], 0
    for n in splits:
        out.append(module_forward(f, li, x[p:p + n], e[p:p + n], p, history))
        p += n
    return rows, np.concatenate(out, axis=0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("gguf")
    ap.add_argument("--tokens", required=True, help="comma-separated token ids")
    ap.add_argument("--seed", type=int, default=0, help="seed of the random hidden states")
    a = ap.parse_args()
    f = EngramFile(a.gguf)
    tokens = [int(t) for t in a.tokens.split(",")]
    x = np.random.default_rng(a.seed).standard_normal((len(tokens), f.n_embd)).astype(np.float32)
    print(f"{a.gguf}: form {f.form}, layers {f.layer_ids}, n_embd {f.n_embd}, eps {f.eps}")
    for li, il in enumerate(f.layer_ids):
        rows, out = run(f, li, tokens, x)
        print(f"layer {il}: rows {rows.tolist()}")
        print(f"layer {il}: out[:, :4] {np.round(out[:, :4], 6).tolist()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
