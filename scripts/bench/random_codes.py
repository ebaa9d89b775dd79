#!/usr/bin/env python3
"""Writes a copy of a GGUF whose 2-D weights are IQ2_XXS blocks with random
codes, for speed benchmarks only. llama.cpp refuses to quantize to IQ2_XXS
(and IQ2_XS, IQ1_S) without an importance matrix, which llama-cpp-python
cannot pass in; the benchmark models are random-weight ones anyway, and what
a speed comparison needs is that both engines read the same bytes. Each
256-value block gets random grid indices, signs and scales, and an f16 d
chosen so its values have about the RMS of the source tensor's (so the
activations stay in range through the layers).

    random_codes.py IN OUT [--seed N]

Every other tensor is copied as it is; the metadata bytes are copied
verbatim (general.file_type is left as the source's: the engines read the
tensors' own types). OUT is written to OUT.tmp and renamed."""
import argparse
import os
import struct

import numpy as np
from gguf import GGUFReader, GGMLQuantizationType as T
from gguf import quants

BLOCK, BLOCK_BYTES = 256, 66


def iq2_xxs_blocks(rng, n_blocks, rms):
    raw = rng.integers(0, 256, (n_blocks, BLOCK_BYTES), dtype=np.uint16).astype(np.uint8)
    # |value| = d * (0.5 + ls) / 4 * grid, grid in {8, 25, 43}: mean square about
    # (d / 4)^2 * E[(0.5 + ls)^2] * E[grid^2] = (d / 4)^2 * 85.6 * 835
    d = np.float16(rms * 4.0 / np.sqrt(85.6 * 835.0))
    raw[:, 0:2] = np.frombuffer(d.tobytes(), dtype=np.uint8)
    return raw


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("src")
    ap.add_argument("dst")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    r = GGUFReader(a.src)
    rng = np.random.default_rng(a.seed)
    with open(a.src, "rb") as f:
        head = f.read(r.tensors[0].field.offset)  # header and metadata, verbatim
    align = r.alignment
    infos, datas, off = [], [], 0
    for t in r.tensors:
        dims = [int(x) for x in t.shape]
        is_weight = len([x for x in dims if x > 1]) >= 2 and t.name.endswith(".weight") and dims[0] % BLOCK == 0
        if is_weight:
            src = t.data if t.tensor_type in (T.F32, T.F16) else quants.dequantize(np.asarray(t.data), t.tensor_type)
            sample = np.asarray(src, dtype=np.float32).reshape(-1)[:: max(1, t.n_elements // 65536)]
            rms = float(np.sqrt(np.mean(sample.astype(np.float64) ** 2))) or 1e-3
            ty, data = T.IQ2_XXS, iq2_xxs_blocks(rng, t.n_elements // BLOCK, rms).tobytes()
        else:
            ty, data = t.tensor_type, np.asarray(t.data).tobytes()
        name = t.name.encode()
        infos.append(struct.pack("<Q", len(name)) + name + struct.pack("<I", len(dims))
                     + struct.pack(f"<{len(dims)}Q", *dims) + struct.pack("<IQ", int(ty), off))
        datas.append(data)
        off += (len(data) + align - 1) // align * align
    tmp = a.dst + ".tmp"
    with open(tmp, "wb") as f:
        f.write(head)
        for i in infos:
            f.write(i)
        f.write(b"\0" * (-f.tell() % align))
        for d in datas:
            f.write(d)
            f.write(b"\0" * (-len(d) % align))
    os.replace(tmp, a.dst)


if __name__ == "__main__":
    main()
