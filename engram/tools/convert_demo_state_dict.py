#!/usr/bin/env python3
"""Converts the state dict of engram_demo_v1.py's Engram module (one per
Engram layer) into the paper-demo form of DESIGN.md §4, written into a copy of
a base GGUF (all its metadata and tensors, plus the ARCH.engram.* keys and the
blk.N.engram_* tensors).

  convert_demo_state_dict.py --base M.gguf --out E.gguf --hash-config H.json \\
      --module 1=layer1.npz --module 15=layer15.safetensors [--prefix P] \\
      [--table-type f16|bf16|f32|q8_0] [--proj-type f32|f16|bf16]

State dicts: .pt/.pth/.bin through torch.load (when torch is installed),
.safetensors (read here, no library needed) or .npz. Parameter names as the
demo has them (hc = 1; `--prefix` is stripped first, "{layer}" in it standing
for the block index):
  multi_head_embedding.embedding.weight [rows, D]    -> blk.N.engram_embd.weight
  value_proj.weight [C, E], value_proj.bias [C]      -> blk.N.engram_value.weight/.bias
  key_projs.0.weight [C, E], key_projs.0.bias [C]    -> blk.N.engram_key.weight/.bias
      (key_proj.weight/.bias accepted too)
  norm1.0.weight [C] (the key's RMSNorm)             -> blk.N.engram_k.weight
  norm2.0.weight [C] (the query's RMSNorm)           -> blk.N.engram_q.weight
  short_conv.conv.weight [C, 1, K]                   -> blk.N.engram_conv.weight
  short_conv.norms.0.weight [C] (or short_conv.norm.weight) -> blk.N.engram_conv_norm.weight
A torch Linear weight [out, in] is GGUF ne [in, out]: the same memory, so it
is written as it is; likewise Conv1d [C, 1, K] is ne [K, C].

The hashing configuration (H.json) is what NgramHashMapping holds:
  {"max_ngram_size": 3, "n_head_per_ngram": 8, "kernel_size": 4,
   "token_map": [compressed id of every token id]   (or "token_map_npy": path),
   "pad_id": compressed id   (or "pad_token_id": a token id, mapped),
   "layers": {"1": {"multipliers": [...], "primes": [...]}, ...}}
Per-layer multipliers/primes may be left out and computed as the demo does
from "seed" and "engram_vocab_size" (its per-order table sizes): multipliers
from numpy's default_rng(seed + 10007 * layer), primes the next unused prime
upward, unique across heads and layers, in "layer_ids" order.
"""
from __future__ import annotations

import argparse
import json
import os
import struct
import sys
from pathlib import Path

import numpy as np
import gguf
from gguf import GGMLQuantizationType as QT, GGUFValueType as VT


class ConvertError(Exception):
    pass


# --- state dicts -------------------------------------------------------------

_ST_DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64}


def _load_safetensors(path: str) -> dict[str, np.ndarray]:
    data = Path(path).read_bytes()
    if len(data) < 8:
        raise ConvertError(f"{path}: not a safetensors file (shorter than its header length)")
    (n,) = struct.unpack("<Q", data[:8])
    if 8 + n > len(data):
        raise ConvertError(f"{path}: header of {n} bytes runs past the end of the file ({len(data)} bytes)")
    header = json.loads(data[8:8 + n])
    body = memoryview(data)[8 + n:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dt, shape, (b, e) = info["dtype"], info["shape"], info["data_offsets"]
        if not (0 <= b <= e <= len(body)):
            raise ConvertError(f"{path}: tensor {name}: data [{b}, {e}) outside the file's {len(body)} data bytes")
        raw = body[b:e]
        if dt == "BF16":
            u = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
            a = u.view(np.float32)
        elif dt in _ST_DTYPES:
            a = np.frombuffer(raw, dtype=np.dtype(_ST_DTYPES[dt]).newbyteorder("<"))
        else:
            raise ConvertError(f"{path}: tensor {name}: dtype {dt} is not supported")
        if a.size != int(np.prod(shape, dtype=np.int64)):
            raise ConvertError(f"{path}: tensor {name}: {a.size} values for shape {shape}")
        out[name] = a.reshape(shape)
    return out


def load_state_dict(path: str, prefix: str = "") -> dict[str, np.ndarray]:
    if not os.path.isfile(path):
        raise ConvertError(f"{path}: no such file")
    ext = Path(path).suffix.lower()
    if ext == ".npz":
        with np.load(path) as z:
            sd = {k: np.asarray(z[k]) for k in z.files}
    elif ext == ".safetensors":
        sd = _load_safetensors(path)
    elif ext in (".pt", ".pth", ".bin"):
        try:
            import torch  # noqa: PLC0415
        except ImportError as ex:
            raise ConvertError(f"{path}: torch is not installed; save the state dict as .safetensors or .npz") from ex
        obj = torch.load(path, map_location="cpu", weights_only=True)
        if isinstance(obj, dict) and "state_dict" in obj:
            obj = obj["state_dict"]
        sd = {k: v.detach().float().numpy() for k, v in obj.items() if hasattr(v, "detach")}
    else:
        raise ConvertError(f"{path}: unknown state dict format {ext!r} (.pt/.pth/.bin, .safetensors, .npz)")
    if prefix:
        sd = {k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)}
        if not sd:
            raise ConvertError(f"{path}: no parameter starts with the prefix {prefix!r}")
    return {k: np.asarray(v, dtype=np.float32) for k, v in sd.items()}


def _param(sd: dict, path: str, names: list[str], shape: tuple) -> np.ndarray:
    for n in names:
        if n in sd:
            a = sd[n]
            if tuple(a.shape) != tuple(shape):
                raise ConvertError(f"{path}: {n}: shape {tuple(a.shape)}, expected {tuple(shape)}")
            if not np.all(np.isfinite(a)):
                raise ConvertError(f"{path}: {n}: holds NaN or infinite values")
            return a
    raise ConvertError(f"{path}: parameter {' / '.join(names)} missing")


# --- hashing configuration ---------------------------------------------------

def _is_prime(n: int) -> bool:
    if n < 2:
        return False
    small = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37)
    for p in small:
        if n % p == 0:
            return n == p
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for a in small:  # deterministic below 3.3e24
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


def demo_primes(layer_ids, vocab_sizes, max_ngram, heads) -> dict[int, list[int]]:
    """As NgramHashMapping.calculate_vocab_size_across_layers."""
    seen, out = set(), {}
    for lid in layer_ids:
        primes = []
        for n in range(2, max_ngram + 1):
            start = int(vocab_sizes[n - 2]) - 1
            for _ in range(heads):
                c = start + 1
                while not (_is_prime(c) and c not in seen):
                    c += 1
                seen.add(c)
                primes.append(c)
                start = c
        out[lid] = primes
    return out


def demo_multipliers(layer_id: int, seed: int, n_classes: int, max_ngram: int) -> list[int]:
    """As NgramHashMapping.__init__."""
    half_bound = max(1, (np.iinfo(np.int64).max // n_classes) // 2)
    g = np.random.default_rng(int(seed + 10007 * int(layer_id)))
    r = g.integers(low=0, high=half_bound, size=(max_ngram,), dtype=np.int64)
    return [int(v) for v in r * 2 + 1]


# --- GGUF --------------------------------------------------------------------

_PSEUDO_KEYS = {"GGUF.version", "GGUF.tensor_count", "GGUF.kv_count"}


def _encode(a: np.ndarray, t: str, name: str):
    a = np.ascontiguousarray(a, dtype=np.float32)
    if t == "f32":
        return a, None
    if t == "f16":
        return a.astype(np.float16), None
    qt = {"bf16": QT.BF16, "q8_0": QT.Q8_0}[t]
    if qt == QT.Q8_0 and a.shape[-1] % 32 != 0:
        raise ConvertError(f"{name}: q8_0 needs rows of a multiple of 32 values, not {a.shape[-1]}")
    return gguf.quants.quantize(a, qt), qt


def convert(base: str, out: str, hash_config: dict, modules: dict[int, str], prefix: str = "",
            table_type: str = "f16", proj_type: str = "f32") -> None:
    r = gguf.GGUFReader(base)
    f = r.fields
    if "general.architecture" not in f:
        raise ConvertError(f"{base}: key general.architecture missing")
    arch = f["general.architecture"].contents()
    if f"{arch}.engram.layer_ids" in f:
        raise ConvertError(f"{base}: already has Engram modules ({arch}.engram.layer_ids)")
    for k in ("embedding_length", "block_count"):
        if f"{arch}.{k}" not in f:
            raise ConvertError(f"{base}: key {arch}.{k} missing")
    n_embd = int(f[f"{arch}.embedding_length"].contents())
    n_layer = int(f[f"{arch}.block_count"].contents())
    n_vocab = None
    if "tokenizer.ggml.tokens" in f:
        n_vocab = len(f["tokenizer.ggml.tokens"].data)
    elif f"{arch}.vocab_size" in f:
        n_vocab = int(f[f"{arch}.vocab_size"].contents())

    hc = hash_config
    try:
        max_ngram = int(hc["max_ngram_size"])
        heads = int(hc["n_head_per_ngram"])
        kernel = int(hc["kernel_size"])
    except KeyError as ex:
        raise ConvertError(f"hash config: key {ex.args[0]} missing") from ex
    if "token_map" in hc:
        token_map = np.asarray(hc["token_map"], dtype=np.int64)
    elif "token_map_npy" in hc:
        token_map = np.load(hc["token_map_npy"]).astype(np.int64)
    else:
        raise ConvertError("hash config: token_map (or token_map_npy) missing")
    if token_map.ndim != 1 or token_map.size == 0 or token_map.min() < 0:
        raise ConvertError("hash config: token_map must be a non-empty list of non-negative ids")
    n_classes = int(token_map.max()) + 1
    if n_vocab is not None and token_map.size != n_vocab:
        raise ConvertError(f"hash config: token_map has {token_map.size} entries, {base} has {n_vocab} tokens")
    if "pad_id" in hc:
        pad_id = int(hc["pad_id"])
    elif "pad_token_id" in hc:
        pad_id = int(token_map[int(hc["pad_token_id"])])
    else:
        raise ConvertError("hash config: pad_id (or pad_token_id) missing")
    if not 0 <= pad_id < n_classes:
        raise ConvertError(f"hash config: pad_id {pad_id} outside the {n_classes} compressed ids")
    if not 2 <= max_ngram <= 8 or heads < 1 or kernel < 1:
        raise ConvertError("hash config: max_ngram_size must be 2..8, n_head_per_ngram and kernel_size >= 1")

    layer_ids = sorted(modules)
    for il in layer_ids:
        if not 0 <= il < n_layer:
            raise ConvertError(f"--module {il}: layer outside the base's {n_layer} blocks")
    per_layer = hc.get("layers", {})
    hpl = (max_ngram - 1) * heads
    computed_primes = None
    if any("primes" not in per_layer.get(str(il), {}) for il in layer_ids):
        if "engram_vocab_size" not in hc:
            raise ConvertError("hash config: primes of a layer missing and no engram_vocab_size to compute them")
        order = [int(v) for v in hc.get("layer_ids", layer_ids)]
        computed_primes = demo_primes(order, hc["engram_vocab_size"], max_ngram, heads)

    w = gguf.GGUFWriter(out + ".tmp", arch)
    w.kv_data[0].pop("general.architecture", None)  # copied below with the rest
    alignment = None
    for name, field in f.items():
        if name in _PSEUDO_KEYS:
            continue
        if name == "general.alignment":
            alignment = int(field.contents())
            continue
        vtype = field.types[0]
        if vtype == VT.ARRAY:
            if len(field.types) > 2:
                raise ConvertError(f"{base}: key {name}: nested arrays are not supported")
            w.add_key_value(name, field.contents(), vtype, sub_type=field.types[-1])
        else:
            w.add_key_value(name, field.contents(), vtype)
    if alignment is not None:
        w.add_custom_alignment(alignment)
    for t in r.tensors:
        w.add_tensor(t.name, t.data, raw_dtype=t.tensor_type)

    all_mult, all_primes, all_offsets = [], [], []
    key_length = None
    for il in layer_ids:
        src = modules[il]
        sd = load_state_dict(src, prefix.replace("{layer}", str(il)))
        if any(k.startswith(("key_projs.1.", "norm1.1.", "norm2.1.", "short_conv.norms.1.")) for k in sd):
            raise ConvertError(f"{src}: hyper-connections (hc > 1) are not supported")
        lc = per_layer.get(str(il), {})
        primes = [int(p) for p in lc["primes"]] if "primes" in lc else computed_primes[il]
        mult = ([int(m) for m in lc["multipliers"]] if "multipliers" in lc else
                demo_multipliers(il, int(hc.get("seed", 0)), n_classes, max_ngram))
        if len(primes) != hpl:
            raise ConvertError(f"hash config: layer {il}: {len(primes)} primes, expected {hpl}")
        if len(mult) != max_ngram:
            raise ConvertError(f"hash config: layer {il}: {len(mult)} multipliers, expected {max_ngram}")
        emb = sd.get("multi_head_embedding.embedding.weight")
        if emb is None or emb.ndim != 2:
            raise ConvertError(f"{src}: parameter multi_head_embedding.embedding.weight missing or not 2-D")
        rows, D = emb.shape
        if rows != sum(primes):
            raise ConvertError(f"{src}: multi_head_embedding.embedding.weight has {rows} rows, "
                               f"the layer's primes sum to {sum(primes)}")
        if key_length is not None and D != key_length:
            raise ConvertError(f"{src}: rows of {D} values, other layers have {key_length}")
        key_length = D
        E = hpl * D
        value_w = _param(sd, src, ["value_proj.weight"], (n_embd, E))
        value_b = _param(sd, src, ["value_proj.bias"], (n_embd,))
        key_w = _param(sd, src, ["key_projs.0.weight", "key_proj.weight"], (n_embd, E))
        key_b = _param(sd, src, ["key_projs.0.bias", "key_proj.bias"], (n_embd,))
        k_norm = _param(sd, src, ["norm1.0.weight", "norm1.weight"], (n_embd,))
        q_norm = _param(sd, src, ["norm2.0.weight", "norm2.weight"], (n_embd,))
        conv = _param(sd, src, ["short_conv.conv.weight"], (n_embd, 1, kernel))
        conv_norm = _param(sd, src, ["short_conv.norms.0.weight", "short_conv.norm.weight"], (n_embd,))

        p = f"blk.{il}."
        data, qt = _encode(emb, table_type, p + "engram_embd.weight")
        w.add_tensor(p + "engram_embd.weight", data, raw_dtype=qt)
        for name, a in (("engram_key.weight", key_w), ("engram_value.weight", value_w)):
            data, qt = _encode(a, proj_type, p + name)
            w.add_tensor(p + name, data, raw_dtype=qt)
        for name, a in (("engram_key.bias", key_b), ("engram_value.bias", value_b), ("engram_q.weight", q_norm),
                        ("engram_k.weight", k_norm), ("engram_conv.weight", conv.reshape(n_embd, kernel)),
                        ("engram_conv_norm.weight", conv_norm)):
            w.add_tensor(p + name, np.ascontiguousarray(a, dtype=np.float32))
        all_mult += mult
        all_primes += primes
        all_offsets += [int(v) for v in np.concatenate([[0], np.cumsum(primes)[:-1]])]

    e = f"{arch}.engram."
    w.add_key_value(e + "layer_ids", layer_ids, VT.ARRAY, sub_type=VT.INT32)
    w.add_uint32(e + "head_count", heads)
    w.add_uint32(e + "key_length", key_length)
    w.add_uint32(e + "max_ngram_size", max_ngram)
    w.add_key_value(e + "multipliers", all_mult, VT.ARRAY, sub_type=VT.UINT64)
    w.add_key_value(e + "primes", all_primes, VT.ARRAY, sub_type=VT.UINT64)
    w.add_key_value(e + "offsets", all_offsets, VT.ARRAY, sub_type=VT.UINT64)
    w.add_key_value(e + "token_map", [int(v) for v in token_map], VT.ARRAY, sub_type=VT.INT32)
    w.add_uint32(e + "pad_id", pad_id)
    w.add_uint32(e + "conv_kernel_size", kernel)
    try:
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()
        os.replace(out + ".tmp", out)
    except BaseException:
        w.close()
        if os.path.exists(out + ".tmp"):
            os.remove(out + ".tmp")
        raise


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", required=True, help="GGUF to copy (all metadata and tensors)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--hash-config", required=True, help="JSON with the hashing configuration")
    ap.add_argument("--module", action="append", required=True, metavar="LAYER=STATE_DICT",
                    help="the demo Engram module of block LAYER (repeat per layer)")
    ap.add_argument("--prefix", default="",
                    help="stripped from parameter names first; {layer} stands for the block index "
                         "(e.g. 'model.layers.{layer}.engram.')")
    ap.add_argument("--table-type", default="f16", choices=["f32", "f16", "bf16", "q8_0"])
    ap.add_argument("--proj-type", default="f32", choices=["f32", "f16", "bf16"])
    a = ap.parse_args(argv)
    try:
        modules = {}
        for m in a.module:
            il, sep, path = m.partition("=")
            if not sep or not il.strip().isdigit():
                raise ConvertError(f"--module {m!r}: expected LAYER=STATE_DICT")
            if int(il) in modules:
                raise ConvertError(f"--module: layer {il} given twice")
            modules[int(il)] = path
        with open(a.hash_config) as fh:
            hc = json.load(fh)
        convert(a.base, a.out, hc, modules, a.prefix, a.table_type, a.proj_type)
    except (ConvertError, OSError, ValueError) as ex:
        print(f"convert_demo_state_dict: {ex}", file=sys.stderr)
        return 1
    print(f"wrote {a.out}: demo-form Engram at blocks {sorted(modules)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
