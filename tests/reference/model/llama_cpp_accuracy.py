#!/usr/bin/env python3
"""Dev tool: llama.cpp's accuracy against the exact-math reference, measured
the way tests/engine/test_accuracy.cpp measures ours, for the comparison in
issue 13 (nothing in CI runs it; it writes no fixture).

For llama.cpp through llama-cpp-python 0.3.16 (logits_all=True), in two
configurations: its default, and with use_extra_bufts=False (no weight
repacking into the CPU's extra buffer types, e.g. the AMX path that is known
wrong for Q4_1 batches of 32+ tokens on Intel CPUs):
  - per prompt of smollm2_exact.json: KL(reference || llama.cpp) over the whole
    vocabulary after the prompt, top-1 and the reference's top-2 gap, the
    prompt run as one batch and token by token;
  - over the text: perplexity against the reference's, KL over the reference's
    top-K tokens + the rest (mean, max), top-1 agreement where the reference's
    top-2 gap exceeds 0.5, as one batch (n_batch 512) and token by token.
With --full-kl it also recomputes the exact float64 distribution of every text
position (make_exact_reference.forward, ~1 minute) and prints the full-
vocabulary KL beside the top-K one: what the fixture's truncation misses.

  ~/.cache/engram-desktop/refenv/bin/python tests/reference/model/llama_cpp_accuracy.py \\
      ~/.cache/engram-desktop/models/SmolLM2-135M-Instruct.Q4_1.gguf [--full-kl] [--threads N]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
GAP = 0.5


def cpu_name() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def load_fixture():
    with open(os.path.join(HERE, "smollm2_exact.json")) as f:
        h = json.load(f)
    blob = open(os.path.join(HERE, h["bin"]), "rb").read()
    assert len(blob) == h["bin_bytes"]
    nv, K = h["n_vocab"], h["topk"]

    def arr(off, dtype, count):
        return np.frombuffer(blob, dtype=np.dtype(dtype).newbyteorder("<"), count=count, offset=off)

    for p in h["prompts"]:
        lp = arr(p["logprobs_offset"], np.float16, nv).astype(np.float64)
        p["logprobs"] = log_softmax(lp)
    t = h["text"]
    n, off = t["n_positions"], t["offsets"]
    t["target"] = arr(off["target"], np.float32, n).astype(np.float64)
    t["gap"] = arr(off["gap"], np.float32, n).astype(np.float64)
    t["tail"] = arr(off["tail"], np.float32, n).astype(np.float64)
    t["topk_ids"] = arr(off["topk_ids"], np.uint16, n * K).reshape(n, K).astype(np.int64)
    t["topk_logprobs"] = arr(off["topk_logprobs"], np.float16, n * K).reshape(n, K).astype(np.float64)
    return h


def log_softmax(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    mx = x.max(axis=-1, keepdims=True)
    return x - (mx + np.log(np.exp(x - mx).sum(axis=-1, keepdims=True)))


def kl_full(p_lp: np.ndarray, q_lp: np.ndarray) -> float:
    return float(np.sum(np.exp(p_lp) * (p_lp - q_lp)))


def kl_topk(ids, ref_lp, tail, q_lp) -> float:
    """As test_accuracy.cpp: KL over the reference's top K + one bin for the rest."""
    p = np.exp(ref_lp)
    s = p.sum() + tail
    p, r = p / s, tail / s
    kl = float(np.sum(p * (np.log(p) - q_lp[ids])))
    mask = np.ones(len(q_lp), bool)
    mask[ids] = False
    q_rest = float(np.exp(q_lp[mask]).sum())
    if r > 0:
        kl += r * np.log(r / q_rest)
    return kl


def make_llama(model: str, extra_bufts: bool, n_ctx: int, threads: int):
    import llama_cpp
    from llama_cpp import Llama
    lc = llama_cpp.llama_cpp
    default = lc.llama_model_default_params
    if not extra_bufts:
        def no_extra():
            p = default()
            p.use_extra_bufts = False
            return p
        lc.llama_model_default_params = no_extra
    try:
        return Llama(model_path=model, n_ctx=n_ctx, n_batch=512, n_ubatch=512, n_threads=threads,
                     n_threads_batch=threads, logits_all=True, verbose=False, seed=0)
    finally:
        lc.llama_model_default_params = default


def run(llm, ids, token_by_token: bool) -> np.ndarray:
    """llama.cpp's logits after each of ids [n, n_vocab], from an empty cache."""
    llm.reset()
    if token_by_token:
        for t in ids:
            llm.eval([t])
    else:
        llm.eval(ids)
    return np.array(llm.scores[:len(ids)], dtype=np.float64)


def measure(llm, h, exact_text_lp=None):
    out = {}
    for tbt in (False, True):
        path = "token by token" if tbt else "one batch"
        kls = []
        for p in h["prompts"]:
            q = log_softmax(run(llm, p["tokens"], tbt)[-1])
            kl = kl_full(p["logprobs"], q)
            kls.append(kl)
            top = int(np.argmax(q))
            print(f"  {p['name']:13s} {path:14s} KL {kl:.5f}  top-1 {top} (reference {p['top1']}, gap {p['top2_gap']:.3f})")
        print(f"  prompts, {path}: mean KL {np.mean(kls):.5f}, max {np.max(kls):.5f}")
        t = h["text"]
        logits = run(llm, t["tokens"], tbt)[:-1]
        n = t["n_positions"]
        q = log_softmax(logits)
        nll = -q[np.arange(n), np.asarray(t["tokens"][1:])].mean()
        ppl = float(np.exp(nll))
        ref_ppl = h["stats"]["text_perplexity"]
        kl = np.array([kl_topk(t["topk_ids"][i], t["topk_logprobs"][i], t["tail"][i], q[i]) for i in range(n)])
        top = q.argmax(axis=1)
        ref_top = t["topk_ids"][:, 0]
        decided = t["gap"] > GAP
        miss = int(np.sum((top != ref_top) & decided))
        print(f"  text, {path}: perplexity {ppl:.4f} vs {ref_ppl:.4f} ({(ppl / ref_ppl - 1) * 100:+.3f}%), "
              f"KL top-{h['topk']}+rest mean {kl.mean():.5f} max {kl.max():.5f}, top-1 agrees at "
              f"{int(np.sum(top == ref_top))}/{n}, misses {miss} of {int(decided.sum())} where gap > {GAP}")
        if exact_text_lp is not None:
            full = np.sum(np.exp(exact_text_lp) * (exact_text_lp - q), axis=1)
            print(f"    full-vocabulary KL: mean {full.mean():.5f} max {full.max():.5f}; the top-{h['topk']} estimate "
                  f"is {kl.mean() / full.mean() * 100:.1f}% of it on average "
                  f"(per position: min {np.min(kl / full) * 100:.1f}%)")
        out[path] = dict(prompt_kl=kls, ppl=ppl, text_kl=kl.mean(), miss=miss)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("--full-kl", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    h = load_fixture()
    if os.path.getsize(a.model) != h["model_bytes"]:
        raise SystemExit(f"{a.model} is not the file the reference was made from ({h['model']})")
    exact = None
    if a.full_kl:
        sys.path.insert(0, HERE)
        import make_exact_reference as mer
        m = mer.Decoder(a.model)
        hid = mer.forward(m, h["text"]["tokens"])[:-1]
        exact = np.concatenate([mer.log_softmax(hid[i:i + 128] @ m.output.T) for i in range(0, len(hid), 128)])
    import llama_cpp
    print(f"CPU: {cpu_name()}; llama-cpp-python {llama_cpp.__version__}; {a.threads} threads")
    n_ctx = len(h["text"]["tokens"]) + 16
    for extra in (True, False):
        print(f"llama.cpp, use_extra_bufts={extra}:")
        llm = make_llama(a.model, extra, n_ctx, a.threads)
        measure(llm, h, exact)
        del llm


if __name__ == "__main__":
    main()
