#!/usr/bin/env bash
# Speed of engram-bench next to llama.cpp on the same machine, in one run:
# prefill-512 and decode-128 tokens/s of SmolLM2-135M-Instruct Q4_1 and Q8_0,
# same threads, and the ratios ours / llama.cpp. The small case of
# scripts/bench-matrix.sh, which does the work (venv, files, table), so that
# the two never measure differently.
#   scripts/bench-vs-llamacpp.sh [-t THREADS] [-r REPS] [-p N_PROMPT] [-n N_GEN]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
THREADS="$(nproc)"; REPS=5; NP=512; NG=128
while getopts "t:r:p:n:" o; do
  case "$o" in t) THREADS="$OPTARG";; r) REPS="$OPTARG";; p) NP="$OPTARG";; n) NG="$OPTARG";; *) exit 2;; esac
done
exec "$ROOT/scripts/bench-matrix.sh" --models smollm2 --types q4_1,q8_0 --tests pp,tg --threads "$THREADS" \
  -r "$REPS" -p "$NP" -n "$NG" --out "${ENGRAM_BUILD_DIR:-$ROOT/build}/bench"
