#!/usr/bin/env bash
# The README's test command: installs what is missing (Debian packages, the
# default model, the `openai` and `anthropic` clients the server tests drive,
# llama-cpp-python's server for the remote-engine tests, the tokenizer
# test data), builds Release in build/ and runs
# every test; then builds the parser tests (GGUF, tokenizer, chat template,
# Engram config) and the Engram store test
# with ASan+UBSan in build-asan/ and runs them. .ci/run calls this script.
#   scripts/test.sh
# Environment: ENGRAM_JOBS (build parallelism, default nproc),
#              ENGRAM_TEST_ASAN=0 (skip the sanitizer pass, for quick local runs).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
JOBS="${ENGRAM_JOBS:-$(nproc)}"
# Qt tests never need a display; GUI tests that do start their own Xvfb.
export QT_QPA_PLATFORM="${QT_QPA_PLATFORM:-offscreen}"

step() { echo; echo "=== $* ==="; }

step "dependencies"
scripts/install-deps.sh
step "default model"
scripts/fetch-model.sh >/dev/null
step "server test clients (openai and anthropic from PyPI)"
scripts/client-env.sh >/dev/null
step "an independent OpenAI-compatible engine (llama-cpp-python[server] from PyPI)"
scripts/llama-server-env.sh >/dev/null
# The remote-engine tests fail, not skip, without it.
export ENGRAM_REQUIRE_REFERENCE_SERVER=1
if [[ -f scripts/fetch-test-data.sh ]]; then
    step "test data"
    bash scripts/fetch-test-data.sh
fi

step "Release build (build/)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$JOBS"
step "all tests"
ctest --test-dir build --output-on-failure --no-tests=error
step "packages (build/packages/)"
scripts/check-package.sh build

if [[ "${ENGRAM_TEST_ASAN:-1}" == 0 ]]; then
    echo "ENGRAM_TEST_ASAN=0: sanitizer pass skipped"
    exit 0
fi

# The parser tests read hostile input (GGUF, vocabularies, templates, Engram
# keys and tensors, the server's JSON replies and stop sequences) and the Engram store juggles threads and raw buffers:
# they also run under ASan+UBSan. Only their targets are built (-O1 keeps
# them quick on CI's two cores).
PARSER_TESTS='gguf|tokenizer|chat_template|engram_config|engram_store|json_constraint|stop_sequences|remote_engines'
step "ASan+UBSan build of the parser tests (build-asan/)"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DENGRAM_CUDA=OFF \
    -DENGRAM_SANITIZE=address,undefined -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g"
# CTest names tests "<area>.<target>"; build exactly those targets.
mapfile -t targets < <(ctest --test-dir build-asan -N -R "$PARSER_TESTS" |
    sed -nE 's/^ *Test +#[0-9]+: [^.]+\.(.+)$/\1/p')
[[ ${#targets[@]} -gt 0 ]] || { echo "no parser tests match '$PARSER_TESTS'" >&2; exit 1; }
cmake --build build-asan -j"$JOBS" --target "${targets[@]}"
step "parser tests under ASan+UBSan: ${targets[*]}"
ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}" \
UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}" \
    ctest --test-dir build-asan -R "$PARSER_TESTS" --output-on-failure --no-tests=error
