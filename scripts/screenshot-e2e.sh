#!/usr/bin/env bash
# Screenshots of the real window under Xvfb, for reviews and release notes:
#   first-start.png  what a new user sees: no model installed (an empty cache dir)
#   ready.png        the chat pane with the default model loaded
# The end-to-end test (tests/app/test_e2e.cpp) adds e2e-chat.png with a reply.
#   scripts/screenshot-e2e.sh [build-dir] [out-dir]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${1:-$ROOT/build}"
OUT="${2:-$BUILD/test-artifacts}"
APP="$BUILD/app/engram-desktop"
[[ -x "$APP" ]] || { echo "no $APP: build the engram-desktop target first" >&2; exit 1; }
command -v xvfb-run >/dev/null && command -v import >/dev/null ||
    { echo "needs xvfb-run and ImageMagick's import (apt-get install xvfb imagemagick)" >&2; exit 1; }
mkdir -p "$OUT"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

# shot NAME SECONDS APP-ARGS...: start the app on a private X display, wait, capture the screen.
shot() {
    local name="$1" wait_s="$2"
    shift 2
    xvfb-run -a -s "-screen 0 1280x800x24" bash -c '
        shot="$1" wait_s="$2"; shift 2
        "$@" & pid=$!
        sleep "$wait_s"
        import -window root "$shot"
        kill "$pid"; wait "$pid" || true' _ "$OUT/$name.png" "$wait_s" "$@" </dev/null >"$OUT/$name.log" 2>&1 &&
        echo "$OUT/$name.png" ||
        { echo "screenshot $name failed; see $OUT/$name.log" >&2; return 1; }
}

ENGRAM_CACHE_DIR="$TMP/empty-cache" shot first-start 6 "$APP" --data-dir "$TMP/data-first"
MODEL="${ENGRAM_TEST_MODEL:-$("$ROOT/scripts/fetch-model.sh")}"
shot ready 10 "$APP" --data-dir "$TMP/data-ready" --model "$MODEL"
