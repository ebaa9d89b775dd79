#!/usr/bin/env bash
# Fetches the vocabulary-only GGUFs that the tokenizer tests compare against:
# llama.cpp ships them in its repository, and the llama-cpp-python sdist on PyPI
# carries that repository. Files are verified against the SHA-256 values in
# tests/reference/tokenizer/vocab.sha256; the download is skipped when every
# file is already present and verified. Idempotent.
#
#   scripts/fetch-test-data.sh            # into ${ENGRAM_CACHE_DIR:-~/.cache/engram-desktop}/vocab
#   LLAMA_CPP_SDIST=/path/llama_cpp_python-0.3.16.tar.gz scripts/fetch-test-data.sh   # offline
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SUMS="$ROOT/tests/reference/tokenizer/vocab.sha256"
CACHE="${ENGRAM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/engram-desktop}"
DEST="$CACHE/vocab"
SDIST_VERSION="0.3.16"
SDIST_NAME="llama_cpp_python-$SDIST_VERSION"

mkdir -p "$DEST"

all_verified() {
    (cd "$DEST" && sha256sum --quiet --check "$SUMS" >/dev/null 2>&1)
}

if all_verified; then
    echo "vocab files present and verified in $DEST"
    exit 0
fi

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

SDIST="${LLAMA_CPP_SDIST:-}"
if [[ -z "$SDIST" ]]; then
    echo "downloading llama-cpp-python==$SDIST_VERSION sdist from PyPI ..."
    python3 -m pip download --no-deps --no-binary :all: "llama-cpp-python==$SDIST_VERSION" -d "$TMP" >&2
    SDIST="$TMP/$SDIST_NAME.tar.gz"
fi
[[ -f "$SDIST" ]] || { echo "error: sdist not found: $SDIST" >&2; exit 1; }

# Extract only the files listed in the checksum file.
members=()
while read -r _ name; do
    [[ -n "$name" ]] && members+=("$SDIST_NAME/vendor/llama.cpp/models/$name")
done < "$SUMS"
tar -xzf "$SDIST" -C "$TMP" "${members[@]}"

while read -r _ name; do
    [[ -n "$name" ]] || continue
    # Copy through a temporary name so an interrupted run leaves no bad file.
    cp "$TMP/$SDIST_NAME/vendor/llama.cpp/models/$name" "$DEST/$name.tmp"
    mv -f "$DEST/$name.tmp" "$DEST/$name"
done < "$SUMS"

if ! (cd "$DEST" && sha256sum --check "$SUMS"); then
    echo "error: vocab files in $DEST do not match $SUMS" >&2
    exit 1
fi
echo "vocab files ready in $DEST"
