#!/usr/bin/env python3
"""The llama.cpp side of scripts/bench-vs-llamacpp.sh and bench-matrix.sh:
prefill and decode tokens/s of a GGUF through llama-cpp-python's low-level
API, measured the way engram-bench measures ours (random prompt ids, one
warm-up, r repetitions, prefill in batches of 512, then n single-token decode
steps). With -d D both tests run after a context of D random tokens, built
once and untimed (it is the warm-up); every repetition rolls the cache back to
it, as engram-bench -d does. Prints JSON."""
import argparse
import json
import random
import statistics
import sys
import time

import llama_cpp
from llama_cpp import Llama


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-m", "--model", required=True)
    ap.add_argument("-p", "--n-prompt", type=int, default=512, help="prompt tokens (0: no prefill test)")
    ap.add_argument("-n", "--n-gen", type=int, default=128)
    ap.add_argument("-d", "--depth", type=int, default=0, help="context tokens before the tests (untimed)")
    ap.add_argument("-t", "--threads", type=int, default=2)
    ap.add_argument("-r", "--repetitions", type=int, default=5)
    a = ap.parse_args()
    if a.n_prompt < 0 or a.n_gen < 0 or a.depth < 0 or a.n_prompt + a.n_gen == 0:
        sys.exit("error: -p, -n and -d must not be negative, and -p + -n must be > 0")

    llm = Llama(model_path=a.model, n_ctx=a.depth + a.n_prompt + a.n_gen + 16, n_batch=512, n_ubatch=512,
                n_threads=a.threads, n_threads_batch=a.threads, verbose=False)
    rng = random.Random(1234)
    nv = llm.n_vocab()
    prompt = [rng.randrange(nv) for _ in range(a.n_prompt)]
    gen = [rng.randrange(nv) for _ in range(a.n_gen)]
    first = -1
    if a.depth:
        llm.eval([rng.randrange(nv) for _ in range(a.depth)])
        first = 0
    pp, tg = [], []
    for r in range(first, a.repetitions):
        llm.n_tokens = a.depth  # eval() drops the cache from n_tokens on
        t0 = time.perf_counter()
        if prompt:
            llm.eval(prompt)
        t1 = time.perf_counter()
        for t in gen:
            llm.eval([t])
        t2 = time.perf_counter()
        if r < 0:
            continue
        if a.n_prompt:
            pp.append(a.n_prompt / (t1 - t0))
        if a.n_gen:
            tg.append(a.n_gen / (t2 - t1))

    def spread(v):
        return {"median": statistics.median(v), "min": min(v), "max": max(v), "mean": statistics.mean(v),
                "stddev": statistics.stdev(v) if len(v) > 1 else 0.0}

    out = {"engine": "llama.cpp (llama-cpp-python)", "version": llama_cpp.__version__, "model": a.model,
           "threads": a.threads, "n_prompt": a.n_prompt, "n_gen": a.n_gen, "n_depth": a.depth,
           "repetitions": a.repetitions, "flash_attn": bool(llm.context_params.flash_attn),
           "system_info": llama_cpp.llama_print_system_info().decode().strip()}
    if pp:
        out["prefill_tokens_per_s"] = spread(pp)
    if tg:
        out["decode_tokens_per_s"] = spread(tg)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
