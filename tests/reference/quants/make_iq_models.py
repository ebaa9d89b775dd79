#!/usr/bin/env python3
"""Makes SmolLM2-135M-Instruct models in i-quant types with llama.cpp's own
quantizer (llama-cpp-python 0.3.16, llama_model_quantize), caches them outside
the repository, and writes iq_models.json beside this script: for each model
its file name, size and SHA-256, and for the three prompts of the model tests
the float64 reference (tests/reference/model/make_exact_reference.py's
forward of the file's own dequantized weights): token ids, top-1 id, top-2
logit gap, the top 64 log-probabilities and the mass outside them. Read by
tests/engine/test_iq_model.cpp.

Run with the reference venv (numpy, gguf 0.19, llama-cpp-python 0.3.16):
    ~/.cache/engram-desktop/refenv/bin/python tests/reference/quants/make_iq_models.py
Source: ~/.cache/engram-desktop/models/SmolLM2-135M-Instruct.Q8_0.gguf
(scripts/fetch-model.sh), requantized (llama.cpp's --allow-requantize).
Output: ~/.cache/engram-desktop/models/SmolLM2-135M-Instruct.<TYPE>.gguf

SmolLM2's width (576) is not a multiple of 256, so llama.cpp falls back to
IQ4_NL for the tensors of 576 columns and keeps the named type for
ffn_down (1536 columns): an IQ3_S file is IQ4_NL + IQ3_S (+ Q8_0 embeddings).
IQ2_XXS/IQ2_XS/IQ1_S need an importance matrix to quantize, which we do not
make here: they are covered by the kernel tests (tests/engine/test_quant.cpp).

llama.cpp's quantizer is deterministic for a given build; a different build
may write other bytes, and the test then skips (the SHA-256 differs).
"""
import ctypes
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "model"))
import make_exact_reference as ref  # noqa: E402

CACHE = os.path.join(os.path.expanduser("~"), ".cache", "engram-desktop", "models")
SOURCE = os.path.join(CACHE, "SmolLM2-135M-Instruct.Q8_0.gguf")
# (name, llama_ftype): LLAMA_FTYPE_MOSTLY_IQ4_XS, _IQ3_S, _IQ3_XXS
MODELS = [("IQ4_XS", 30), ("IQ3_S", 26), ("IQ3_XXS", 23)]


def quantize(dst: str, ftype: int):
    import llama_cpp
    p = llama_cpp.llama_model_quantize_default_params()
    p.ftype = ftype
    p.nthread = 2
    p.allow_requantize = True
    rc = llama_cpp.llama_model_quantize(SOURCE.encode(), dst.encode(), ctypes.byref(p))
    if rc != 0:
        raise SystemExit(f"llama_model_quantize({dst}) failed: {rc}")


def main():
    if not os.path.exists(SOURCE):
        raise SystemExit(f"{SOURCE} missing: run scripts/fetch-model.sh")
    out = {"format": 1, "source": os.path.basename(SOURCE), "topk": ref.TOPK, "models": []}
    for name, ftype in MODELS:
        path = os.path.join(CACHE, f"SmolLM2-135M-Instruct.{name}.gguf")
        if not os.path.exists(path):
            quantize(path, ftype)
        m = ref.Decoder(path)
        vocab = ref.llama_vocab(path)
        chat = ref.render_chat(path)
        entry = {"type": name, "model": os.path.basename(path), "model_bytes": os.path.getsize(path),
                 "model_sha256": ref.sha256(path), "n_vocab": m.n_vocab, "prompts": []}
        for pname, text in ref.PROMPTS:
            text = chat if text is None else text
            ids = ref.tokenize(vocab, text)
            logits = m_logits = ref.forward(m, ids)[-1] @ m.output.T
            lp = ref.log_softmax(m_logits)
            top1, gap = ref.top2_gap(logits)
            order = np.argsort(-lp, kind="stable")[:ref.TOPK]
            tail = float(max(0.0, 1.0 - np.exp(lp[order]).sum()))
            entry["prompts"].append({"name": pname, "tokens": ids, "top1": top1, "top2_gap": gap,
                                     "topk_ids": [int(i) for i in order],
                                     "topk_logprobs": [round(float(lp[i]), 7) for i in order], "tail": tail})
            print(f"{name} {pname}: top-1 {top1}, gap {gap:.3f}")
        out["models"].append(entry)
    with open(os.path.join(HERE, "iq_models.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
