#!/usr/bin/env python3
"""Makes a Q8_0 (or other) copy of a GGUF with llama.cpp's own quantizer
(llama_model_quantize through llama-cpp-python), for benchmarks on models
that cannot be downloaded here. Usage: requantize.py IN OUT [q8_0|q4_0|...]"""
import ctypes
import sys

import llama_cpp

FTYPES = {"q4_0": 2, "q4_1": 3, "q8_0": 7, "q5_0": 8, "q5_1": 9, "q2_k": 10, "q3_k_m": 12, "q4_k_m": 15,
          "q5_k_m": 17, "q6_k": 18, "f16": 1}


def main():
    src, dst = sys.argv[1], sys.argv[2]
    kind = sys.argv[3] if len(sys.argv) > 3 else "q8_0"
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = FTYPES[kind]
    params.allow_requantize = True
    params.nthread = 2
    rc = llama_cpp.llama_model_quantize(src.encode(), dst.encode(), ctypes.byref(params))
    if rc != 0:
        sys.exit(f"llama_model_quantize failed with {rc}")


if __name__ == "__main__":
    main()
