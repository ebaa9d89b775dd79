#!/usr/bin/env python3
"""Writes quant_fixtures.bin: reference results of gguf-py (gguf.quants) for
every tensor type the engine computes with, checked by tests/engine/test_quant.

Run with the reference venv (gguf 0.19.0 + numpy), from anywhere:
    /root/.cache/engram-desktop/refenv/bin/python tests/reference/quants/make_quant_fixtures.py
The output is deterministic (fixed seed); rerunning it must not change the file.

Records:
  dequant: random raw blocks (random bytes, scale fields replaced by random
           finite f16 values so every result is finite) -> gguf.quants.dequantize
  quant:   random float32 rows -> gguf.quants.quantize (the types gguf-py can
           quantize, plus F16 = numpy astype and BF16)
  MXFP4 (both kinds) comes after them, from its own seed, so adding it left
  every earlier record byte-identical; the i-quants and ternary types (dequant
  only: gguf-py cannot quantize most of them) come last, from a seed of their
  own, for the same reason. Their grid indices and sign fields are random
  bytes (every index is valid); IQ1_M's f16 d is spread over the top nibbles
  of its scale words, so it is written there.

File layout (little-endian):
  "EGQF" u32 version=1 u32 n_records
  per record: u32 kind (0 dequant, 1 quant) u32 ggml_type u32 n_elements u32 n_bytes
              u8 bytes[n_bytes]      raw blocks (dequant) / expected output (quant)
              f32 values[n_elements] expected output (dequant) / input (quant)
"""
import os
import struct

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf import quants

SEED = 20261129
N_ELEMENTS = 1024  # 4 k-quant blocks, 32 small blocks: enough to hit every field

# (type, block elements, block bytes, byte offsets of f16 scale fields)
DEQUANT_TYPES = [
    (T.F32, 1, 4, []),
    (T.F16, 1, 2, []),
    (T.BF16, 1, 2, []),
    (T.Q4_0, 32, 18, [0]),
    (T.Q4_1, 32, 20, [0, 2]),
    (T.Q5_0, 32, 22, [0]),
    (T.Q5_1, 32, 24, [0, 2]),
    (T.Q8_0, 32, 34, [0]),
    (T.Q2_K, 256, 84, [80, 82]),
    (T.Q3_K, 256, 110, [108]),
    (T.Q4_K, 256, 144, [0, 2]),
    (T.Q5_K, 256, 176, [0, 2]),
    (T.Q6_K, 256, 210, [208]),
]
QUANT_TYPES = [T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0, T.F16, T.BF16]
MXFP4_SEED = SEED + 39
IQ_SEED = SEED + 18

# (type, block elements, block bytes, byte offsets of f16 scale fields)
IQ_TYPES = [
    (T.IQ4_NL, 32, 18, [0]),
    (T.IQ4_XS, 256, 136, [0]),
    (T.IQ2_XXS, 256, 66, [0]),
    (T.IQ2_XS, 256, 74, [0]),
    (T.IQ2_S, 256, 82, [0]),
    (T.IQ3_XXS, 256, 98, [0]),
    (T.IQ3_S, 256, 110, [0]),
    (T.IQ1_S, 256, 50, [0]),
    (T.IQ1_M, 256, 56, []),
    (T.TQ1_0, 256, 54, [52]),
    (T.TQ2_0, 256, 66, [64]),
]


def mxfp4_raw(rng):
    """Random MXFP4 blocks (every nibble pattern), exponents mostly where
    real weights are (2^-20..2^4) plus the edges: 0 and 1 (subnormal scales),
    2, 127 and 252 (the largest whose values all stay finite: 2^125 * 12
    overflows float32)."""
    n_blocks = N_ELEMENTS // 32
    raw = rng.integers(0, 256, (n_blocks, 17), dtype=np.uint16).astype(np.uint8)
    raw[:, 0] = rng.integers(127 - 20, 127 + 5, n_blocks)
    raw[:5, 0] = [0, 1, 2, 127, 252]
    return raw.reshape(-1)


def mxfp4_input(rng):
    """Rows for the MXFP4 quantizer: random magnitudes over several decades,
    an all-zero block, one-signed blocks, and a block of exact ties between
    E2M1 values (amax 4 gives steps of 0.5 up to 2, then 1, then 2; 7 clips
    to 6)."""
    rows = N_ELEMENTS // 32
    x = rng.standard_normal((rows, 32)) * (10.0 ** rng.uniform(-4, 2, (rows, 1)))
    x[2] = 0.0
    x[5] = np.abs(x[5])
    x[6] = -np.abs(x[6])
    ties = [4.0, 0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5.0, 7.0, 6.5, 0.0, -0.0, 1e-30, 2.0, 3.0, 0.5]
    x[9] = ties + [-v for v in ties]
    return x.astype(np.float32).reshape(-1)


def random_raw(rng, qtype, block, size, scale_offsets):
    n_blocks = N_ELEMENTS // block
    if qtype == T.F32:
        return rng.standard_normal(N_ELEMENTS).astype(np.float32).view(np.uint8)
    if qtype == T.F16:
        # random bit patterns, exponent 31 (inf/nan) excluded: covers subnormals
        bits = rng.integers(0, 1 << 16, N_ELEMENTS, dtype=np.uint32).astype(np.uint16)
        bits = np.where((bits & 0x7C00) == 0x7C00, bits & ~np.uint16(0x4000), bits).astype(np.uint16)
        return bits.view(np.uint8)
    if qtype == T.BF16:
        bits = rng.integers(0, 1 << 16, N_ELEMENTS, dtype=np.uint32).astype(np.uint16)
        bits = np.where((bits & 0x7F80) == 0x7F80, bits & ~np.uint16(0x4000), bits).astype(np.uint16)
        return bits.view(np.uint8)
    raw = rng.integers(0, 256, (n_blocks, size), dtype=np.uint16).astype(np.uint8)
    for off in scale_offsets:
        # scales of either sign and a few orders of magnitude, as real files have
        s = (rng.standard_normal(n_blocks) * 10.0 ** rng.uniform(-3, 0, n_blocks)).astype(np.float16)
        raw[:, off:off + 2] = s.view(np.uint8).reshape(n_blocks, 2)
    return raw.reshape(-1)


def iq1_m_set_d(raw, rng):
    """IQ1_M: a random finite f16 d in the top nibble of each u16 scale word
    (bytes 48..55): word k holds bits 4k..4k+3 of d."""
    n_blocks = raw.shape[0]
    d = (rng.standard_normal(n_blocks) * 10.0 ** rng.uniform(-3, 0, n_blocks)).astype(np.float16).view(np.uint16)
    words = raw[:, 48:56].copy().view(np.uint16)
    for k in range(4):
        words[:, k] = (words[:, k] & 0x0FFF) | (((d >> (4 * k)) & 0xF) << 12)
    raw[:, 48:56] = words.view(np.uint8)


def random_input(rng):
    rows = N_ELEMENTS // 32
    x = rng.standard_normal((rows, 32)) * (10.0 ** rng.uniform(-2, 1, (rows, 1)))
    x[3] += 5.0          # a block far from zero: Q4_1/Q5_1 minimum matters
    x[5] = np.abs(x[5])  # one-signed blocks pick the largest value's sign
    x[6] = -np.abs(x[6])
    x[7] = 0.25          # a constant block: d = 0 for the min/max types
    x[8, :4] = [65504.0, -65520.0, 1e-8, 6.1e-5]  # f16 overflow and subnormals
    return x.astype(np.float32).reshape(-1)


def main():
    rng = np.random.default_rng(SEED)
    records = []
    for qtype, block, size, offs in DEQUANT_TYPES:
        raw = random_raw(rng, qtype, block, size, offs)
        assert raw.size == N_ELEMENTS // block * size
        out = np.asarray(quants.dequantize(raw, qtype), dtype=np.float32).reshape(-1)
        assert out.size == N_ELEMENTS and np.all(np.isfinite(out)), qtype.name
        records.append((0, int(qtype), raw.tobytes(), out))
    for qtype in QUANT_TYPES:
        x = random_input(rng)
        with np.errstate(over="ignore"):
            q = quants.quantize(x.reshape(-1, 256), qtype)
        records.append((1, int(qtype), np.ascontiguousarray(q).view(np.uint8).tobytes(), x))
    rng = np.random.default_rng(MXFP4_SEED)
    raw = mxfp4_raw(rng)
    out = np.asarray(quants.dequantize(raw, T.MXFP4), dtype=np.float32).reshape(-1)
    assert out.size == N_ELEMENTS and np.all(np.isfinite(out))
    records.append((0, int(T.MXFP4), raw.tobytes(), out))
    x = mxfp4_input(rng)
    q = quants.quantize(x.reshape(-1, 256), T.MXFP4)
    records.append((1, int(T.MXFP4), np.ascontiguousarray(q).view(np.uint8).tobytes(), x))

    rng = np.random.default_rng(IQ_SEED)
    for qtype, block, size, offs in IQ_TYPES:
        raw = random_raw(rng, qtype, block, size, offs)
        if qtype == T.IQ1_M:
            raw = raw.reshape(-1, size)
            iq1_m_set_d(raw, rng)
            raw = raw.reshape(-1)
        assert raw.size == N_ELEMENTS // block * size
        out = np.asarray(quants.dequantize(raw, qtype), dtype=np.float32).reshape(-1)
        assert out.size == N_ELEMENTS and np.all(np.isfinite(out)), qtype.name
        records.append((0, int(qtype), raw.tobytes(), out))

    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "quant_fixtures.bin")
    with open(path, "wb") as f:
        f.write(b"EGQF" + struct.pack("<II", 1, len(records)))
        for kind, qtype, raw, vals in records:
            f.write(struct.pack("<IIII", kind, qtype, vals.size, len(raw)))
            f.write(raw)
            f.write(vals.astype("<f4").tobytes())
    print(f"wrote {path}: {len(records)} records, {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
