#!/usr/bin/env python3
"""Streamed decode tokens/s and time to first token of OpenAI-compatible
servers on one prompt, as a client sees them (scripts/bench-server.sh starts
the servers). Prints one JSON object per server.

    server_bench.py --url http://127.0.0.1:P/v1 --model ID [--runs 3] [--max-tokens 128]

Every run asks the same greedy reply with the end-of-text tokens banned
(logit_bias), so every server generates exactly max_tokens tokens.
TTFT: request sent -> first text chunk. Decode: (chunks - 1) / (last - first chunk).
"""
import argparse
import json
import statistics
import time

from openai import OpenAI

PROMPT = "Write a long story about a lighthouse keeper and the sea."

ap = argparse.ArgumentParser()
ap.add_argument("--url", required=True)
ap.add_argument("--model", required=True)
ap.add_argument("--name", default="server")
ap.add_argument("--runs", type=int, default=3)
ap.add_argument("--max-tokens", type=int, default=128)
ap.add_argument("--ban", default="0,1,2", help="token ids to ban (the model's end-of-text ids)")
a = ap.parse_args()

client = OpenAI(base_url=a.url, api_key="unused", max_retries=0, timeout=600)
bias = {t: -100 for t in a.ban.split(",") if t}
ttft, decode, chunks_seen = [], [], []
for run in range(a.runs + 1):  # the first run warms up (and fills the prompt cache of both)
    t0 = time.perf_counter()
    first = last = None
    chunks = 0
    for c in client.chat.completions.create(model=a.model, messages=[{"role": "user", "content": PROMPT}],
                                            temperature=0, max_tokens=a.max_tokens, logit_bias=bias, stream=True):
        if c.choices and c.choices[0].delta.content:
            now = time.perf_counter()
            first = first or now
            last = now
            chunks += 1
    if run == 0:
        continue
    ttft.append((first - t0) * 1000)
    decode.append((chunks - 1) / (last - first) if last > first else 0)
    chunks_seen.append(chunks)
print(json.dumps({"server": a.name, "runs": a.runs, "max_tokens": a.max_tokens, "chunks": chunks_seen,
                  "ttft_ms_median": statistics.median(ttft), "decode_tokens_per_s_median": statistics.median(decode),
                  "ttft_ms": [round(x, 1) for x in ttft], "decode_tokens_per_s": [round(x, 1) for x in decode]}))
