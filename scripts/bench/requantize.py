#!/usr/bin/env python3
"""Makes a Q8_0 (or other) copy of a GGUF with llama.cpp's own quantizer
(llama_model_quantize through llama-cpp-python), for benchmarks on models
that cannot be downloaded here, so that engram-bench and llama.cpp read the
same bytes.

    requantize.py IN OUT [q8_0|q4_0|q4_k_m|...] [--pure]
    requantize.py --describe FILE

--pure gives every 2-D weight (token_embd and output included) the one type
of the kind (llama.cpp's `quantize --pure`; q4_k means Q4_K_S then, which
pure makes all Q4_K) and checks the result with gguf-py. Without it llama.cpp
picks types per tensor as its mixes do (Q4_K_M: some Q6_K, and other types
where a row length is not a multiple of 256). OUT is written to OUT.tmp and
renamed, so an interrupted run never leaves a file that looks finished. The
types the file holds are printed as one JSON line on stdout (--describe: of
an existing file)."""
import argparse
import collections
import ctypes
import json
import os
import sys

FTYPES = {"f16": 1, "q4_0": 2, "q4_1": 3, "q8_0": 7, "q5_0": 8, "q5_1": 9, "q2_k": 10, "q3_k_m": 12,
          "q4_k_s": 14, "q4_k": 14, "q4_k_m": 15, "q5_k_s": 16, "q5_k": 16, "q5_k_m": 17, "q6_k": 18,
          "mxfp4": 38, "iq4_xs": 30, "iq3_s": 26}
# The one type a pure file of each ftype holds.
PURE_TYPE = {1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K", 12: "Q3_K", 14: "Q4_K",
             15: "Q4_K", 16: "Q5_K", 17: "Q5_K", 18: "Q6_K", 38: "MXFP4", 30: "IQ4_XS", 26: "IQ3_S"}


def describe(path):
    """Types of a GGUF's tensors: counts of the 2-D weights by type, and the
    types of token_embd and output ("tied" when the file has none)."""
    from gguf import GGUFReader

    r = GGUFReader(path)
    counts = collections.Counter()
    names = {}
    for t in r.tensors:
        ty = t.tensor_type.name
        names[t.name] = ty
        if len([d for d in t.shape if d > 1]) >= 2 and t.name.endswith(".weight"):
            counts[ty] += 1
    return {"file": path, "weights_2d": dict(counts.most_common()),
            "token_embd": names.get("token_embd.weight", "none"),
            "output": names.get("output.weight", "tied")}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("src", help="input GGUF (or the file to describe with --describe)")
    ap.add_argument("dst", nargs="?")
    ap.add_argument("kind", nargs="?", default="q8_0", choices=sorted(FTYPES))
    ap.add_argument("--pure", action="store_true", help="one type for every 2-D weight, checked afterwards")
    ap.add_argument("--describe", action="store_true", help="only print the types of SRC")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    if a.describe:
        print(json.dumps(describe(a.src)))
        return
    if not a.dst:
        ap.error("OUT is required")

    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = FTYPES[a.kind]
    params.allow_requantize = True
    params.pure = a.pure
    params.nthread = a.threads
    tmp = a.dst + ".tmp"
    rc = llama_cpp.llama_model_quantize(a.src.encode(), tmp.encode(), ctypes.byref(params))
    if rc != 0:
        if os.path.exists(tmp):
            os.unlink(tmp)
        sys.exit(f"error: llama_model_quantize {a.src} -> {a.kind} failed with {rc}")
    d = describe(tmp)
    if a.pure:
        want = PURE_TYPE[params.ftype]
        other = {k: v for k, v in d["weights_2d"].items() if k != want}
        if other:
            os.unlink(tmp)
            sys.exit(f"error: --pure {a.kind}: llama.cpp wrote 2-D weights of other types than {want}: {other}")
    os.replace(tmp, a.dst)
    d["file"] = a.dst
    print(json.dumps(d))


if __name__ == "__main__":
    main()
