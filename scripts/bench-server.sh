#!/usr/bin/env bash
# Our server next to llama-cpp-python's on the same model, prompt and
# threads: streamed decode tokens/s and time to first token as a client sees
# them (scripts/bench/server_bench.py), and our server's decode rate against
# engram-bench's (the server's overhead). A benchmark, not a test: one run,
# on whatever else the machine is doing; name the CPU with the numbers.
#   scripts/bench-server.sh [-r RUNS] [-n MAX_TOKENS] [-t THREADS]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${ENGRAM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/engram-desktop}"
RUNS=3 N=128 THREADS="$(lscpu -p=core | grep -v '^#' | sort -u | wc -l)"
while getopts "r:n:t:" o; do
  case "$o" in r) RUNS=$OPTARG;; n) N=$OPTARG;; t) THREADS=$OPTARG;; *) exit 2;; esac
done
M="$("$ROOT/scripts/fetch-model.sh")"
CLIENT="$("$ROOT/scripts/client-env.sh")"
REFENV="$CACHE/refenv"
"$ROOT/scripts/llama-server-env.sh" >/dev/null
OURS=18931 THEIRS=18932
TMP="$(mktemp -d)"
cleanup() { kill "${PIDS[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$TMP"; }
PIDS=()
trap cleanup EXIT

"$ROOT/build/app/engram-desktop" --serve --port $OURS --model "$M" --data-dir "$TMP/data" >"$TMP/ours.log" 2>&1 &
PIDS+=($!)
"$REFENV/bin/python" -m llama_cpp.server --model "$M" --port $THEIRS --n_ctx 4096 --n_threads "$THREADS" \
    --n_threads_batch "$THREADS" --model_alias SmolLM2 >"$TMP/theirs.log" 2>&1 &
PIDS+=($!)
for url in http://127.0.0.1:$OURS/health http://127.0.0.1:$THEIRS/v1/models; do
  for _ in $(seq 300); do curl -sf "$url" >/dev/null && break; sleep 0.2; done
done
ID="$(basename "$M" .gguf)"
echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'), threads $THREADS; model $ID; $N tokens, $RUNS runs (median)" >&2
ours="$("$CLIENT" "$ROOT/scripts/bench/server_bench.py" --url http://127.0.0.1:$OURS/v1 --model "$ID" --name engram-desktop --runs "$RUNS" --max-tokens "$N")"
theirs="$("$CLIENT" "$ROOT/scripts/bench/server_bench.py" --url http://127.0.0.1:$THEIRS/v1 --model SmolLM2 --name llama-cpp-python --runs "$RUNS" --max-tokens "$N")"
kill "${PIDS[@]}" 2>/dev/null || true
bench="$("$ROOT/build/app/engram-bench" -m "$M" -p 0 -n "$N" -r "$RUNS" -t "$THREADS" 2>/dev/null)"
echo "$ours"; echo "$theirs"; echo "$bench"
python3 - "$ours" "$theirs" "$bench" <<'PY'
import json, sys
o, t, b = (json.loads(x) for x in sys.argv[1:4])
def find(d, key):
    if isinstance(d, dict):
        for k, v in d.items():
            if k == key: return v
            r = find(v, key)
            if r is not None: return r
    if isinstance(d, list):
        for v in d:
            r = find(v, key)
            if r is not None: return r
bench_tg = find(b, "decode_tokens_per_s")
if isinstance(bench_tg, dict): bench_tg = bench_tg.get("median")
print("| | engram-desktop --serve | llama-cpp-python server | ratio |\n|---|---|---|---|")
print(f"| streamed decode tok/s | {o['decode_tokens_per_s_median']:.1f} | {t['decode_tokens_per_s_median']:.1f} | {o['decode_tokens_per_s_median']/t['decode_tokens_per_s_median']:.2f} |")
print(f"| time to first token ms | {o['ttft_ms_median']:.1f} | {t['ttft_ms_median']:.1f} | {o['ttft_ms_median']/t['ttft_ms_median']:.2f} |")
if bench_tg:
    print(f"\nengram-bench decode: {bench_tg:.1f} tok/s; the server's streamed decode is {100*(1-o['decode_tokens_per_s_median']/bench_tg):.1f}% below it")
PY
