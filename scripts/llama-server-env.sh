#!/usr/bin/env bash
# Makes the venv with llama-cpp-python's OpenAI-compatible server (PyPI's
# sdist, which builds llama.cpp for this CPU: several minutes on 2 cores),
# the independent engine the remote-engine tests and scripts/bench-server.sh
# point the app at. Under the cache (~/.cache/engram-desktop/refenv, shared
# with the reference scripts of tests/reference/). Idempotent: does nothing
# when the pinned version is there. Prints the venv's python.
#   scripts/llama-server-env.sh
set -euo pipefail

LLAMA_CPP_PYTHON_VERSION="0.3.16"
CACHE="${ENGRAM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/engram-desktop}"
VENV="$CACHE/refenv"

if "$VENV/bin/python" -c "import llama_cpp, llama_cpp.server, sys; sys.exit(llama_cpp.__version__ != '$LLAMA_CPP_PYTHON_VERSION')" 2>/dev/null; then
    echo "$VENV/bin/python"
    exit 0
fi
echo "llama-server-env: installing llama-cpp-python[server] $LLAMA_CPP_PYTHON_VERSION into $VENV (builds llama.cpp) ..." >&2
[[ -x "$VENV/bin/python" ]] || python3 -m venv "$VENV"
CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" "$VENV/bin/pip" install -q --disable-pip-version-check \
    "llama-cpp-python[server]==$LLAMA_CPP_PYTHON_VERSION" >&2
echo "$VENV/bin/python"
