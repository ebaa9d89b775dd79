#!/usr/bin/env bash
# One run of the CUDA checks on the lent GPU machine (an H200; no network,
# 64 MiB of uploads, 15 minutes of device time in all). Aims to finish in
# 8 minutes:
#   1. configure + build Release with CUDA for sm_90 (-j16): the programs
#      and the GPU plugin they load, lib/engram-desktop/libengram-cuda.so
#   2. engram-cli gpus (the plugin loads, the GPU is listed), then the GPU
#      tests: test_backend_ops, test_cuda_model, test_engram_cuda, the
#      plugin's own test_gpu_plugin (all through the plugin)
#   3. synthetic 1B- and 8B-shaped Q4_K llama models (engram-cli forge --synthetic),
#      and the 1B shape in IQ4_XS
#   4. engram-bench on each (prefill 512, decode 128): all blocks on the GPU,
#      then (Q4_K) about half of them on the CPU (--vram-budget in bytes)
#   5. an Engram model (1 GiB of tables forged onto the 1B shape): all
#      blocks on the GPU with the tables' hot rows in VRAM, then with them
#      in DRAM (--engram-vram-budget 0: VRAM holds one batch's rows only)
#   6. a table: tokens/s and the fraction of the measured HBM bandwidth
#      (bytes read per token x tokens/s over the device-copy bandwidth),
#      and Engram in DRAM against Engram in VRAM.
# Each step is timed; a failed step is reported and the script goes on.
#
# The machine has no Qt, spdlog, CLI11, ... Run this here first:
#     scripts/device-check.sh --fetch-deps
# which downloads the Debian packages the build needs (~22 MiB) into .devdeps/
# (add `/.devdeps/` to .git/info/exclude), then on the device:
#     run(command="scripts/device-check.sh", carry=[".devdeps"], timeout_s=560)
# Logs go to $OUT (they come back with the reply); the table is printed last.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEPS_PKGS=(qt6-base-dev qt6-base-dev-tools libqt6core6 libqt6test6 libqt6gui6 libqt6widgets6 libqt6network6
           libqt6opengl6 libqt6dbus6 libicu72 libdouble-conversion3 libb2-1 libpcre2-16-0 libpcre2-dev
           libpcre2-8-0 libpcre2-32-0 libpcre2-posix3 libspdlog-dev libspdlog1.10 libfmt-dev libfmt9
           nlohmann-json3-dev libcli11-dev libutf8proc-dev libutf8proc2 pkgconf pkgconf-bin libpkgconf3)

if [[ "${1:-}" == "--fetch-deps" ]]; then
    mkdir -p "$ROOT/.devdeps"
    (cd "$ROOT/.devdeps" && apt-get download "${DEPS_PKGS[@]}")
    du -sh "$ROOT/.devdeps"
    exit 0
fi

OUTDIR=${OUT:-$ROOT/build-device/out}
BUILD=${DEVICE_BUILD_DIR:-$ROOT/build-device}
MODELS=${DEVICE_MODELS_DIR:-/tmp/engram-device-models}
mkdir -p "$OUTDIR" "$MODELS"
SUMMARY=()
T_ALL=$(date +%s)

# step NAME TIMEOUT_S CMD...: runs CMD with its output in $OUTDIR/NAME.log,
# records rc and seconds; never stops the script.
step() {
    local name=$1 limit=$2
    shift 2
    local t0 rc
    t0=$(date +%s.%N)
    echo "== $name: $*" | tee -a "$OUTDIR/steps.log"
    set +e
    timeout "$limit" "$@" >"$OUTDIR/$name.log" 2>&1
    rc=$?
    set -e
    local dt
    dt=$(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$t0" "$(date +%s.%N)")
    SUMMARY+=("$(printf '%-22s %-8s %7ss' "$name" "$([[ $rc == 0 ]] && echo ok || echo "FAIL($rc)")" "$dt")")
    if [[ $rc != 0 ]]; then
        echo "   $name failed (rc $rc); last lines:" | tee -a "$OUTDIR/steps.log"
        tail -n 15 "$OUTDIR/$name.log" | sed 's/^/   | /' | tee -a "$OUTDIR/steps.log"
    fi
    return 0
}

# --- 0. the build's dependencies, unpacked out of / ---------------------------
CMAKE_EXTRA=()
if compgen -G "$ROOT/.devdeps/*.deb" >/dev/null; then
    DEPS=/tmp/devdeps
    mkdir -p "$DEPS"
    for f in "$ROOT"/.devdeps/*.deb; do dpkg -x "$f" "$DEPS"; done
    ML=$DEPS/usr/lib/x86_64-linux-gnu
    export LD_LIBRARY_PATH=$ML${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
    export PATH=$DEPS/usr/bin:$PATH
    # Debian's .pc files say prefix=/usr: a sysroot moves them under $DEPS.
    export PKG_CONFIG_LIBDIR=$ML/pkgconfig:$DEPS/usr/share/pkgconfig
    export PKG_CONFIG_SYSROOT_DIR=$DEPS
    CMAKE_EXTRA+=("-DCMAKE_PREFIX_PATH=$DEPS/usr;$ML/cmake" "-DPKG_CONFIG_EXECUTABLE=$DEPS/usr/bin/pkgconf")
    # Qt's host tools (moc) live in a libexec folder the config finds itself.
fi

# --- 1. build ---------------------------------------------------------------
{ nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.mem --format=csv || true; } \
    >"$OUTDIR/gpu.txt" 2>&1
step configure 120 cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DENGRAM_BUILD_DESKTOP=OFF \
    -DENGRAM_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 -DCMAKE_CUDA_COMPILER="$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)" \
    "${CMAKE_EXTRA[@]}"
step build 300 cmake --build "$BUILD" -j16 --target engram-cuda test_backend_ops test_cuda_model test_engram_cuda \
    test_gpu_plugin engram-cli engram-bench
# The tests load the plugin from here (the programs find it beside them: bin/../lib/engram-desktop).
export ENGRAM_GPU_PLUGIN=$BUILD/lib/engram-desktop/libengram-cuda.so

# --- 2. GPU tests -------------------------------------------------------------
find_bin() { find "$BUILD" -name "$1" -type f -perm -u+x 2>/dev/null | head -n 1; }
OPS=$(find_bin test_backend_ops)
CM=$(find_bin test_cuda_model)
EC=$(find_bin test_engram_cuda)
CLI=$(find_bin engram-cli)
BENCH=$(find_bin engram-bench)
GP=$(find_bin test_gpu_plugin)
if [[ -n "$CLI" ]]; then step gpus 30 "$CLI" gpus; else SUMMARY+=("gpus                   MISSING"); fi
if [[ -n "$GP" ]]; then step test_gpu_plugin 120 "$GP"; fi
if [[ -n "$OPS" ]]; then step test_backend_ops 120 "$OPS"; else SUMMARY+=("test_backend_ops       MISSING"); fi
if [[ -n "$CM" ]]; then step test_cuda_model 180 "$CM"; else SUMMARY+=("test_cuda_model        MISSING"); fi
if [[ -n "$EC" ]]; then step test_engram_cuda 120 "$EC"; else SUMMARY+=("test_engram_cuda       MISSING"); fi
COPY_GBPS=$(grep -o 'device copy [0-9.]* GB/s' "$OUTDIR/test_backend_ops.log" 2>/dev/null | head -n 1 |
            awk '{print $3}' || true)

# --- 3. synthetic models ------------------------------------------------------
# name layers n_embd n_ff heads kv_heads vocab
SHAPES=("1b 16 2048 8192 32 8 32000" "8b 32 4096 14336 32 8 128256")
if [[ -n "$CLI" ]]; then
    "$CLI" forge --help >"$OUTDIR/forge-help.txt" 2>&1 || true
    for s in "${SHAPES[@]}"; do
        read -r name nl ne nf nh nkv nv <<<"$s"
        step "forge_$name" 150 "$CLI" forge --synthetic llama --out "$MODELS/synthetic-$name-q4_k.gguf" \
            --n-layer "$nl" --n-embd "$ne" --n-ff "$nf" --n-head "$nh" --n-head-kv "$nkv" --vocab "$nv" \
            --ctx 2048 --type q4_k --seed 1
    done
    read -r _ nl ne nf nh nkv nv <<<"${SHAPES[0]}"
    step forge_1b_iq4_xs 150 "$CLI" forge --synthetic llama --out "$MODELS/synthetic-1b-iq4_xs.gguf" \
        --n-layer "$nl" --n-embd "$ne" --n-ff "$nf" --n-head "$nh" --n-head-kv "$nkv" --vocab "$nv" \
        --ctx 2048 --type iq4_xs --seed 1
fi

# --- 4. bench -----------------------------------------------------------------
if [[ -n "$BENCH" ]]; then
    for s in "${SHAPES[@]}"; do
        read -r name _ <<<"$s"
        f=$MODELS/synthetic-$name-q4_k.gguf
        [[ -f "$f" ]] || continue
        bytes=$(stat -c %s "$f")
        # 90% of the free VRAM: room for every block.
        step "bench_${name}_gpu" 150 "$BENCH" -m "$f" -p 512 -n 128 -r 1 --vram-budget 90%
        # Half the weights' bytes: the planner keeps about half the blocks on the GPU.
        step "bench_${name}_half" 200 "$BENCH" -m "$f" -p 512 -n 128 -r 1 --vram-budget $((bytes / 2))
    done
    if [[ -f "$MODELS/synthetic-1b-iq4_xs.gguf" ]]; then
        step bench_1b-iq4_xs_gpu 150 "$BENCH" -m "$MODELS/synthetic-1b-iq4_xs.gguf" -p 512 -n 128 -r 1 --vram-budget 90%
    fi
fi

# --- 5. Engram: hot rows in VRAM vs in DRAM ----------------------------------
# 2 layers x 16 rows per token (orders 2, 3 x 8 heads) of 128 F16 values:
# 16 x 131101 rows x 256 B x 2 layers = 1 GiB of tables.
ENGRAM_MODEL=$MODELS/synthetic-1b-engram.gguf
if [[ -n "$CLI" && -n "$BENCH" && -f "$MODELS/synthetic-1b-q4_k.gguf" ]]; then
    step forge_engram 120 "$CLI" forge --base "$MODELS/synthetic-1b-q4_k.gguf" --out "$ENGRAM_MODEL" --form v41 \
        --layers 2,9 --max-ngram 3 --heads 8 --key-length 128 --rows-per-head 131101 --type f16 --seed 3
    if [[ -f "$ENGRAM_MODEL" ]]; then
        step bench_engram_vram 150 "$BENCH" -m "$ENGRAM_MODEL" -p 512 -n 128 -r 1 --vram-budget 90% \
            --engram-dram-budget 100% --no-engram-hot-stats
        step bench_engram_dram 150 "$BENCH" -m "$ENGRAM_MODEL" -p 512 -n 128 -r 1 --vram-budget 90% \
            --engram-vram-budget 0 --engram-dram-budget 100% --no-engram-hot-stats
    fi
fi

# --- 6. summary -----------------------------------------------------------------
echo
echo "steps (logs in \$OUT):"
printf '  %s\n' "${SUMMARY[@]}"
echo "total $(($(date +%s) - T_ALL)) s; gpu: $(tail -n 1 "$OUTDIR/gpu.txt" 2>/dev/null || echo '?')"
python3 - "$OUTDIR" "$MODELS" "${COPY_GBPS:-0}" <<'EOF' || echo "(no bench table: $?)"
import json, os, sys
out, models, copy = sys.argv[1], sys.argv[2], float(sys.argv[3] or 0)

def rate(v):
    if isinstance(v, dict):
        for k in ("median", "mean", "avg", "value"):
            if k in v:
                return float(v[k])
        return None
    return float(v) if v is not None else None

def load(log):
    """The bench's JSON object in its log, or None (missing log, no JSON)."""
    if not os.path.exists(log):
        return None
    text = open(log).read()
    try:
        return json.loads(text[text.index("{"):text.rindex("}") + 1])
    except ValueError:
        return None

def blocks(j):
    return " ".join(f"{p.get('device')}:{p.get('first')}-{p.get('last')}" for p in j.get("placement", [])) or "?"

rows = []
for name in ("1b", "8b", "1b-iq4_xs"):
    f = os.path.join(models, f"synthetic-{name}{'' if '-' in name else '-q4_k'}.gguf")
    size = os.path.getsize(f) if os.path.exists(f) else 0
    for place in ("gpu", "half"):
        log = os.path.join(out, f"bench_{name}_{place}.log")
        if not os.path.exists(log):
            continue
        j = load(log)
        if j is None:
            rows.append((name, place, None, None, size, None, "?"))
            continue
        pp = rate(j.get("prefill_tokens_per_s"))
        tg = rate(j.get("decode_tokens_per_s"))
        # Decode reads every weight once per token (tied head = token_embd):
        # about the file's size; only meaningful when all of it is in VRAM.
        frac = (size * tg / (copy * 1e9)) if (place == "gpu" and tg and copy) else None
        rows.append((name, place, pp, tg, size, frac, blocks(j)))

for place in ("vram", "dram"):
    j = load(os.path.join(out, f"bench_engram_{place}.log"))
    if j is None:
        continue
    v = ((j.get("engram") or {}).get("tiers") or {}).get("vram") or {}
    where = blocks(j) + f"  Engram VRAM hit rate {v.get('hit_rate', 0):.2f}, {v.get('capacity_bytes', 0) / 2**20:.0f} MiB"
    rows.append(("1b+eng", f"eng {place}", rate(j.get("prefill_tokens_per_s")), rate(j.get("decode_tokens_per_s")),
                 0, None, where))

print(f"\ndevice copy bandwidth: {copy:.0f} GB/s (read + write)" if copy else "\ndevice copy bandwidth: not measured")
print(f"{'model':9} {'run':9} {'prefill t/s':>12} {'decode t/s':>11} {'GB/token':>9} {'HBM frac':>9}  blocks")
for name, place, pp, tg, size, frac, where in rows:
    f = lambda v, spec: format(v, spec) if v is not None else "-".rjust(int(spec.split(".")[0]))
    label = {"gpu": "all GPU", "half": "half CPU"}.get(place, place)
    print(f"{name:9} {label:9} {f(pp, '12.1f')} {f(tg, '11.1f')} "
          f"{size / 1e9:9.2f} {f(frac, '9.2f')}  {where}")
eng = {p: tg for name, p, _, tg, *_ in rows if name == "1b+eng"}
if eng.get("eng vram") and eng.get("eng dram"):
    print(f"Engram in DRAM vs in VRAM: decode {eng['eng dram'] / eng['eng vram']:.3f}x (target >= 0.97)")
EOF
