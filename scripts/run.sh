#!/usr/bin/env bash
# The README's first command: installs what is missing, fetches the default
# model (SmolLM2-135M-Instruct Q4_1), builds Release and starts a terminal
# chat with it. Extra arguments go to `engram-cli chat`.
#   scripts/run.sh [engram-cli chat options]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
JOBS="${ENGRAM_JOBS:-$(nproc)}"

scripts/install-deps.sh >&2
MODEL="$(scripts/fetch-model.sh)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >&2
cmake --build build -j"$JOBS" --target engram-cli >&2
exec build/app/engram-cli chat -m "$MODEL" "$@"
