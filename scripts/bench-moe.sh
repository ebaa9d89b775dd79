#!/usr/bin/env bash
# Mixture-of-experts speed next to llama.cpp, in one run: a Qwen3-30B-A3B-
# shaped random-weight model scaled to fit a small machine (24 blocks, 64
# experts of width 768, 8 used per token, n_embd 2048, 16 heads of 128 with 4
# KV heads, Q4_K; about 4 GiB), forged once by engram-cli into the bench
# cache, then prefill and decode tokens/s of engram-bench and of llama.cpp
# (llama-cpp-python, scripts/bench/llamacpp_bench.py) on the same file with
# the same threads, and the ratios ours / llama.cpp, everything in DRAM; then
# ours with 25% and 5% of the experts in DRAM and the rest read from the file
# (the file evicted from the page cache first), on real text (--text-file,
# default: the README) after one warm-up reply, next to all-in-DRAM.
#   scripts/bench-moe.sh [-t THREADS] [-r REPS] [-p N_PROMPT] [-n N_GEN] [-l LAYERS] [-e EXPERTS] [-f TEXT]
# Environment: ENGRAM_BUILD_DIR (default build/), ENGRAM_BENCH_DIR (default
# ~/.cache/engram-desktop/bench).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="${ENGRAM_BUILD_DIR:-$ROOT/build}"
CACHE="${ENGRAM_BENCH_DIR:-$HOME/.cache/engram-desktop/bench}"
PY="$HOME/.cache/engram-desktop/refenv/bin/python"
THREADS="$(nproc)"; REPS=3; NP=512; NG=64; LAYERS=24; EXPERTS=64; TEXT="$ROOT/README.md"
while getopts "t:r:p:n:l:e:f:" o; do
  case "$o" in
    t) THREADS="$OPTARG";; r) REPS="$OPTARG";; p) NP="$OPTARG";; n) NG="$OPTARG";;
    l) LAYERS="$OPTARG";; e) EXPERTS="$OPTARG";; f) TEXT="$OPTARG";; *) exit 2;;
  esac
done
[[ -x "$BUILD/app/engram-bench" && -x "$BUILD/app/engram-cli" ]] ||
  { echo "bench-moe: build engram-bench and engram-cli first (cmake --build $BUILD)" >&2; exit 1; }
[[ -x "$PY" ]] || { echo "bench-moe: no llama-cpp-python venv at $PY (scripts/bench-matrix.sh makes it)" >&2; exit 1; }
mkdir -p "$CACHE"
MODEL="$CACHE/qwen3moe-${LAYERS}L-${EXPERTS}x768-q4_k.gguf"
if [[ ! -f "$MODEL" ]]; then
  echo "bench-moe: forging $MODEL" >&2
  "$BUILD/app/engram-cli" forge --synthetic qwen3moe --n-layer "$LAYERS" --n-embd 2048 --n-head 16 --n-head-kv 4 \
    --n-ff 6144 --n-expert "$EXPERTS" --n-expert-used 8 --n-ff-exp 768 --vocab 32000 --ctx 4096 --type q4_k \
    --seed 1 --out "$MODEL"
fi
OUT="$BUILD/bench/moe"; mkdir -p "$OUT"
CPU="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "bench-moe: $CPU, $THREADS threads, -p $NP -n $NG -r $REPS" >&2
"$BUILD/app/engram-bench" -m "$MODEL" -p "$NP" -n "$NG" -r "$REPS" -t "$THREADS" > "$OUT/ours.json" 2> "$OUT/ours.log"
"$PY" "$ROOT/scripts/bench/llamacpp_bench.py" -m "$MODEL" -p "$NP" -n "$NG" -r "$REPS" -t "$THREADS" \
  > "$OUT/llamacpp.json" 2> "$OUT/llamacpp.log"
# Experts in tiers: all in DRAM, 25% and 5% (the rest read from the file).
for share in 100 25 5; do
  "$BUILD/app/engram-bench" -m "$MODEL" -p "$NP" -n "$NG" -r "$REPS" -t "$THREADS" --text-file "$TEXT" --drop-cache \
    --expert-dram-budget "$share%" > "$OUT/tier-$share.json" 2> "$OUT/tier-$share.log"
done
"$PY" - "$OUT" "$CPU" "$MODEL" <<'EOF'
import json, sys
out, cpu, model = sys.argv[1:4]
ours = json.load(open(f"{out}/ours.json"))
ref = json.load(open(f"{out}/llamacpp.json"))
print(f"# MoE: engram-bench vs llama.cpp\n\n{cpu}; {model}\n")
print("| test | ours tok/s | llama.cpp tok/s | ours / llama.cpp |\n|---|---:|---:|---:|")
for key, label in (("prefill_tokens_per_s", f"pp{ours.get('n_prompt')}"), ("decode_tokens_per_s", f"tg{ours.get('n_gen')}")):
    if key in ours and key in ref:
        a, b = ours[key]["median"], ref[key]["median"]
        print(f"| {label} | {a:.2f} | {b:.2f} | {a / b:.2f}x |")
print("\n## Experts in tiers (ours, real text, file evicted from the page cache first)\n")
print("| experts in DRAM | prefill tok/s | decode tok/s | decode vs all in DRAM | expert hit rate | optimal |")
print("|---|---:|---:|---:|---:|---:|")
base = None
for share in (100, 25, 5):
    j = json.load(open(f"{out}/tier-{share}.json"))
    pp, tg = j["prefill_tokens_per_s"]["median"], j["decode_tokens_per_s"]["median"]
    base = base or tg
    x = j.get("experts", {})
    hit = f"{x['hit_rate']:.3f}" if "hit_rate" in x else "-"
    opt = f"{x['optimal_hit_rate']:.3f}" if "optimal_hit_rate" in x else "-"
    print(f"| {share}% | {pp:.2f} | {tg:.2f} | {tg / base:.2f}x | {hit} | {opt} |")
EOF
