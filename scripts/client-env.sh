#!/usr/bin/env bash
# Makes the Python environment of the server tests' real clients: the
# official `openai` and `anthropic` packages from PyPI, in a venv under the cache
# (~/.cache/engram-desktop/clientenv), pinned so that a run is repeatable.
# Idempotent: does nothing when the pinned version is already there. Prints
# the venv's python.
#   scripts/client-env.sh
set -euo pipefail

OPENAI_VERSION="3.63.0"
ANTHROPIC_VERSION="2.17.0"
CACHE="${ENGRAM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/engram-desktop}"
VENV="$CACHE/clientenv"

if "$VENV/bin/python" -c "import anthropic, openai, sys; sys.exit(openai.__version__ != '$OPENAI_VERSION' or anthropic.__version__ != '$ANTHROPIC_VERSION')" 2>/dev/null; then
    echo "$VENV/bin/python"
    exit 0
fi
echo "client-env: installing openai $OPENAI_VERSION and anthropic $ANTHROPIC_VERSION into $VENV" >&2
python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --disable-pip-version-check "openai==$OPENAI_VERSION" "anthropic==$ANTHROPIC_VERSION" >&2
echo "$VENV/bin/python"
