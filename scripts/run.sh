#!/usr/bin/env bash
# The README's first command: installs what is missing, fetches the default
# model (SmolLM2-135M-Instruct Q4_1), builds Release and starts the desktop
# app on it. Extra arguments go to engram-desktop (e.g. --data-dir DIR).
# Without a display (no $DISPLAY / $WAYLAND_DISPLAY) it starts the terminal
# chat instead: scripts/run.sh --cli does that on purpose.
#   scripts/run.sh [--cli] [options]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
JOBS="${ENGRAM_JOBS:-$(nproc)}"

scripts/install-deps.sh >&2
MODEL="$(scripts/fetch-model.sh)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >&2
if [[ "${1:-}" == --cli || ( -z "${DISPLAY:-}" && -z "${WAYLAND_DISPLAY:-}" ) ]]; then
    if [[ "${1:-}" == --cli ]]; then
        shift
    else
        echo "run.sh: no display (\$DISPLAY / \$WAYLAND_DISPLAY unset): starting the terminal chat instead of the window" >&2
    fi
    cmake --build build -j"$JOBS" --target engram-cli >&2
    exec build/app/engram-cli chat -m "$MODEL" "$@"
fi
cmake --build build -j"$JOBS" --target engram-desktop >&2
exec build/app/engram-desktop --model "$MODEL" "$@"
