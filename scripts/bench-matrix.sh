#!/usr/bin/env bash
# engram-bench next to llama.cpp, side by side in one run: SmolLM2-135M
# (Q4_1, Q8_0, Q4_K_M) and llama-shaped random-weight 1B and 8B models (Q4_0,
# Q4_K, Q5_K, Q6_K, Q8_0, made by llama.cpp's own quantizer so both engines
# read the same bytes; the 1B also IQ4_XS, IQ3_S and IQ2_XXS, the last with
# random codes as llama.cpp wants an importance matrix for it), threads 1 and every core, prefill 512, decode 128,
# decode 128 after a 4096-token context, and a busy row (both engines while
# one `sha256sum /dev/zero` per core competes). One Markdown table of tok/s
# and ratios, headed by the CPU and the kernels each engine used.
#   scripts/bench-matrix.sh [--quick] [--threads 1,2] [--models smollm2,1b,8b]
#       [--types q4_0,q4_1,q4_k,q4_k_m,q5_k,q6_k,q8_0,mxfp4,iq4_xs,iq3_s,iq2_xxs] [--tests pp,tg,depth,busy]
#       [--ik-llama-bench PATH] [--out DIR] [--resume] [-r REPS] [-p N] [-n N] [--depth N] [--list]
# (--help lists all.) llama.cpp is llama-cpp-python in a venv under the cache
# (installed here when missing); models are cached, synthetic ones under
# CACHE/bench (the 8B F16 intermediate is 16 GB, its five types 30 GB more).
# Timing (2 cores): --quick about 3 minutes once the files exist (10-15 with
# other work on the cores); the whole matrix about 3 hours on an AMD EPYC
# (Zen 5), two of them the 8B cells (llama.cpp's 4096-token contexts at 1
# thread); --resume finishes an interrupted run.
# Environment: ENGRAM_CACHE_DIR, ENGRAM_BUILD_DIR (default ROOT/build).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CACHE="${ENGRAM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/engram-desktop}"
BUILD="${ENGRAM_BUILD_DIR:-$ROOT/build}"
VENV="$CACHE/refenv"

for arg in "$@"; do
  case "$arg" in -h|--help|--list) LIGHT=1;; esac
done

SMOL="$("$ROOT/scripts/fetch-model.sh")"
if ! "$VENV/bin/python" -c "import llama_cpp, gguf" 2>/dev/null; then
  echo "bench-matrix: installing llama-cpp-python 0.3.16 (builds llama.cpp) into $VENV ..." >&2
  python3 -m venv "$VENV"
  CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" "$VENV/bin/pip" install -q numpy gguf llama-cpp-python==0.3.16
fi
if [ -z "${LIGHT:-}" ]; then
  [ -f "$BUILD/CMakeCache.txt" ] || cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$BUILD" --target engram-bench engram-cli -j"$(nproc)" >/dev/null
fi

# The busy rows' load processes: the driver lists their pids here while they
# run; whatever way this script ends, the ones still listed are killed.
PIDS="$(mktemp "${TMPDIR:-/tmp}/bench-matrix-load.XXXXXX")"
stop_load() {
  local p
  while read -r p; do
    [ -n "$p" ] && grep -qs sha256sum "/proc/$p/cmdline" && kill "$p" 2>/dev/null || true
  done < "$PIDS"
  rm -f "$PIDS"
}
trap stop_load EXIT
# In the background so that a signal reaches this script at once (bash runs
# traps only between foreground commands); it is passed on to the driver,
# which stops its runs and the load (the load also dies with it on SIGKILL).
"$VENV/bin/python" "$ROOT/scripts/bench/matrix.py" --build "$BUILD" --cache "$CACHE" --smollm2 "$SMOL" \
  --pidfile "$PIDS" "$@" &
DRIVER=$!
forward() { kill -TERM "$DRIVER" 2>/dev/null || true; wait "$DRIVER" 2>/dev/null || true; exit "$1"; }
trap 'forward 130' INT
trap 'forward 143' TERM
trap 'forward 129' HUP
wait "$DRIVER"
