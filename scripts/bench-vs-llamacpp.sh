#!/usr/bin/env bash
# Speed of engram-bench next to llama.cpp on the same machine, in one run:
# prefill-512 and decode-128 tokens/s of SmolLM2-135M-Instruct Q4_1 and Q8_0,
# same threads, and the ratios ours / llama.cpp. llama.cpp comes from the
# llama-cpp-python package (its install builds llama.cpp) in a venv under the
# cache; nothing of it enters the repository.
#   scripts/bench-vs-llamacpp.sh [-t THREADS] [-r REPS] [-p N_PROMPT] [-n N_GEN]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CACHE="${ENGRAM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/engram-desktop}"
THREADS="$(nproc)"; REPS=5; NP=512; NG=128
while getopts "t:r:p:n:" o; do
  case "$o" in t) THREADS="$OPTARG";; r) REPS="$OPTARG";; p) NP="$OPTARG";; n) NG="$OPTARG";; *) exit 2;; esac
done

"$ROOT/scripts/fetch-model.sh"
Q41="$CACHE/models/SmolLM2-135M-Instruct.Q4_1.gguf"
VENV="$CACHE/refenv"
if ! "$VENV/bin/python" -c "import llama_cpp" 2>/dev/null; then
  python3 -m venv "$VENV"
  CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" "$VENV/bin/pip" install -q numpy llama-cpp-python==0.3.16
fi
Q80="$CACHE/models/SmolLM2-135M-Instruct.Q8_0.gguf"
[ -f "$Q80" ] || "$VENV/bin/python" "$ROOT/scripts/bench/requantize.py" "$Q41" "$Q80" q8_0

cmake -S "$ROOT" -B "$ROOT/build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$ROOT/build" --target engram-bench -j"$(nproc)" >/dev/null

OUT="$ROOT/build/bench"; mkdir -p "$OUT"
for m in "$Q41" "$Q80"; do
  b="$(basename "$m" .gguf)"
  "$ROOT/build/app/engram-bench" -m "$m" -p "$NP" -n "$NG" -t "$THREADS" -r "$REPS" > "$OUT/$b.engram.json"
  "$VENV/bin/python" "$ROOT/scripts/bench/llamacpp_bench.py" -m "$m" -p "$NP" -n "$NG" -t "$THREADS" -r "$REPS" > "$OUT/$b.llamacpp.json"
done
python3 - "$OUT" "$Q41" "$Q80" <<'PY'
import json, os, sys
out = sys.argv[1]
print(f"| model | test | engram tok/s | llama.cpp tok/s | ratio |")
print(f"|---|---|---|---|---|")
for m in sys.argv[2:]:
    b = os.path.basename(m)[:-5]
    e = json.load(open(f"{out}/{b}.engram.json")); l = json.load(open(f"{out}/{b}.llamacpp.json"))
    for k, name in (("prefill_tokens_per_s", f"prefill-{e['n_prompt']}"), ("decode_tokens_per_s", f"decode-{e['n_gen']}")):
        if k in e and k in l:
            x, y = e[k]["median"], l[k]["median"]
            print(f"| {b} | {name} | {x:.1f} (±{e[k]['stddev']:.1f}) | {y:.1f} (±{l[k]['stddev']:.1f}) | {x/y:.2f}x |")
PY
