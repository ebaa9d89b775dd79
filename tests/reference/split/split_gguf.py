#!/usr/bin/env python3
"""Splits a GGUF into llama.cpp-style parts with gguf-py's own writer.

    split_gguf.py MODEL.gguf OUT_DIR/NAME --parts 3

writes OUT_DIR/NAME-00001-of-00003.gguf ... : the first part carries every
metadata key, each part carries split.no / split.count / split.tensors.count
(gguf-py's GGUFWriter does what llama.cpp's gguf-split does), and the tensors
are divided in order, their bytes copied unchanged. The engine must answer
with exactly the logits of the unsplit file (tests/library/test_split_model).

The committed fixtures beside this script were made from the repository
root with

    ~/.cache/engram-desktop/refenv/bin/python tests/reference/split/split_gguf.py \
        tests/reference/arch/qwen2-tiny.gguf tests/reference/split/qwen2-tiny --parts 3

Runs in ~/.cache/engram-desktop/refenv (gguf-py 0.19).
"""
import argparse
import math
from pathlib import Path

import gguf
import numpy as np


def copy_field(w: gguf.GGUFWriter, field: gguf.ReaderField) -> None:
    t = field.types[0]
    if t == gguf.GGUFValueType.ARRAY:
        sub = field.types[1]
        if sub == gguf.GGUFValueType.STRING:
            vals = [bytes(field.parts[i]).decode("utf-8") for i in field.data]
        else:
            vals = [field.parts[i].tolist()[0] for i in field.data]
        w.add_key_value(field.name, vals, t, sub_type=sub)
    elif t == gguf.GGUFValueType.STRING:
        w.add_key_value(field.name, bytes(field.parts[field.data[0]]).decode("utf-8"), t)
    else:
        w.add_key_value(field.name, field.parts[field.data[0]].tolist()[0], t)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("out", help="OUT_DIR/NAME: parts are NAME-0000k-of-0000N.gguf")
    ap.add_argument("--parts", type=int, default=3)
    a = ap.parse_args()

    r = gguf.GGUFReader(a.model)
    arch = bytes(r.fields["general.architecture"].parts[-1]).decode()
    per_part = math.ceil(len(r.tensors) / a.parts)
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    w = gguf.GGUFWriter(out.with_suffix(".gguf"), arch, split_max_tensors=per_part)
    for name, field in r.fields.items():
        if name.startswith("GGUF.") or name in ("general.architecture", "general.alignment"):
            continue
        copy_field(w, field)
    for t in r.tensors:
        # The raw bytes (quantized blocks as they are); the writer derives the
        # shape in elements from the byte shape and the type.
        w.add_tensor(t.name, np.asarray(t.data), raw_dtype=t.tensor_type)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    for i in range(a.parts):
        print(out.parent / f"{out.name}-{i + 1:05d}-of-{a.parts:05d}.gguf")


if __name__ == "__main__":
    main()
