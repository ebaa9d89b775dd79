#!/usr/bin/env bash
# The Engram tiers, measured: SmolLM2-135M-Instruct with a forged Engram
# table of about 8 GB (2 layers), decoding real English text (licence texts
# Debian ships under /usr/share), at DRAM budgets 100% / 25% / 5%, prefetch on
# and off, the model file evicted from the page cache before each run (rows
# beyond the budget are read with O_DIRECT, so they come from the disk). Also
# the base model alone (the cost of the Engram compute) and the hit rates of
# LRU vs W-TinyLFU on the same text, and the planner's prediction next to
# what each run measured (decode tokens/s, bytes per tier: the memory panel's
# numbers).
#   scripts/bench-engram.sh [-t THREADS] [-r REPS] [-p N_PROMPT] [-n N_GEN] [-g TABLE_GB]
# (the warm-up reads of the 100% run need the table's size in free RAM)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CACHE="${ENGRAM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/engram-desktop}"
THREADS="$(nproc)"; REPS=3; NP=128; NG=64; GB=8
while getopts "t:r:p:n:g:" o; do
  case "$o" in t) THREADS="$OPTARG";; r) REPS="$OPTARG";; p) NP="$OPTARG";; n) NG="$OPTARG";; g) GB="$OPTARG";; *) exit 2;; esac
done

"$ROOT/scripts/fetch-model.sh"
BASE="$CACHE/models/SmolLM2-135M-Instruct.Q4_1.gguf"
cmake -S "$ROOT" -B "$ROOT/build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$ROOT/build" --target engram-bench engram-cli engram-store-bench -j"$(nproc)" >/dev/null
CLI="$ROOT/build/app/engram-cli"; BENCH="$ROOT/build/app/engram-bench"

# 2 layers x 16 heads (orders 2 and 3, 8 heads each) x rows x 64 F16 values:
# rows per head = GB * 2^30 / (2 * 16 * 128 bytes).
RPH=$(( GB * 1024 * 1024 * 1024 / (2 * 16 * 128) ))
FORGED="$CACHE/bench/SmolLM2-135M-engram-${GB}g.gguf"
mkdir -p "$CACHE/bench"
if [ ! -f "$FORGED" ]; then
  echo "forging $FORGED ($GB GB of tables) ..." >&2
  "$CLI" forge --base "$BASE" --out "$FORGED" --form v41 --layers 1,15 --max-ngram 3 --heads 8 \
    --key-length 64 --rows-per-head "$RPH" --type f16 --seed 1
fi

# Real English: the cache learns from most of the licence texts Debian ships
# (engram-warm, as a user's earlier conversations would teach it; its hot-row
# statistics are saved), then the timed runs decode a text it has not seen.
WARM="$CACHE/bench/warm.txt"; TEXT="$CACHE/bench/test.txt"
L=/usr/share/common-licenses
{ cat $L/{LGPL-3,GPL-2,LGPL-2.1,Apache-2.0,GFDL-1.3,MPL-2.0,Artistic,CC0-1.0,GFDL-1.2,LGPL-2}
  # plus English prose of another kind, where Debian ships it (git's release notes)
  if [ -d /usr/share/doc/git/RelNotes ]; then (cat /usr/share/doc/git/RelNotes/*.txt || true) | head -c 600000; fi
} > "$WARM"
cat $L/GPL-3 > "$TEXT"
HOT="$CACHE/engram-hot/$(basename "$FORGED").$(stat -c %s "$FORGED").hot"

OUT="$ROOT/build/bench-engram"; mkdir -p "$OUT"
run() {  # name, model, extra args...
  local name="$1" model="$2"; shift 2
  # --vram-budget 0: placed by the planner (CPU only), so the JSON carries its prediction.
  # The store appends its SSD read figures (reads, syscalls, CPU per row) at exit.
  rm -f "$OUT/$name.io.jsonl"
  # The whole process's user and system CPU seconds go beside them.
  local timer=(); [ -x /usr/bin/time ] && timer=(/usr/bin/time -f '{"user_s": %U, "sys_s": %S, "wall_s": %e}' -o "$OUT/$name.time.json")
  ENGRAM_STORE_IO_STATS="$OUT/$name.io.jsonl" \
  "${timer[@]}" "$BENCH" -m "$model" -t "$THREADS" -r "$REPS" -p "$NP" -n "$NG" --text-file "$TEXT" --drop-cache \
    --vram-budget 0 "$@" > "$OUT/$name.json"
}
run base "$BASE"
for b in 100% 25% 5% 0.5%; do
  n="${b%\%}"
  # The cache learns the warm text at this budget once; every run starts from
  # the same saved statistics (a run saves its own at exit: restore them).
  rm -f "$HOT"
  "$CLI" engram-warm -m "$FORGED" --text-file "$WARM" --engram-dram-budget "$b" > "$OUT/warm-$n.json"
  cp "$HOT" "$HOT.bench"
  run "b${n}-prefetch" "$FORGED" --engram-dram-budget "$b"
  if [ "$b" != 100% ]; then
    cp "$HOT.bench" "$HOT"
    run "b${n}-noprefetch" "$FORGED" --engram-dram-budget "$b" --no-engram-prefetch
  fi
done
rm -f "$HOT.bench"
rm -f "$HOT"
run "b5-cold" "$FORGED" --engram-dram-budget 5% --no-engram-hot-stats
# The SSD path alone, no compute beside it: 16 random rows of 128 bytes per
# request (a decode step's misses of one table), two requests in flight.
"$ROOT/build/engram/engram-store-bench" "$FORGED" --row-bytes 128 --rows-per-request 16 --requests 4000 \
  > "$OUT/store-io.json"
cat "$WARM" "$TEXT" > "$CACHE/bench/all.txt"
"$CLI" engram-replay -m "$FORGED" --text-file "$CACHE/bench/all.txt" --capacity 0.1%,0.25%,0.5%,1%,5% \
  > "$OUT/replay.json"

python3 - "$OUT" <<'EOF'
import json, sys, os
out = sys.argv[1]
def load(n): return json.load(open(os.path.join(out, n + ".json")))
base = load("base"); full = load("b100-prefetch")
tg = lambda j: j["decode_tokens_per_s"]["median"]
pp = lambda j: j["prefill_tokens_per_s"]["median"]
print(f"Engram bench: {full['engram']['describe']}")
print(f"threads {full['threads']}, text {full['text_file']}, prompt {full['n_prompt']}, decode {full['n_gen']}, reps {full['repetitions']}\n")
# Time of the timed runs (prefill + decode), to put the module's own compute in proportion.
total_ms = lambda j: 1000 * j["repetitions"] * (j["n_prompt"] / pp(j) + j["n_gen"] / tg(j))
print("| run | prefill tok/s | decode tok/s | decode vs 100% | DRAM hit rate | SSD KiB read | stall ms | mean lead us | module ms (share) |")
print("|---|---|---|---|---|---|---|---|---|")
print(f"| base model (no Engram) | {pp(base):.1f} | {tg(base):.1f} | {tg(base)/tg(full):.3f}x | - | - | - | - | - |")
for n in ["b100-prefetch", "b25-prefetch", "b25-noprefetch", "b5-prefetch", "b5-noprefetch", "b0.5-prefetch",
          "b0.5-noprefetch", "b5-cold"]:
    j = load(n); e = j["engram"]; d = e["tiers"]["dram"]; s = e["tiers"]["ssd"]
    print(f"| {n} | {pp(j):.1f} | {tg(j):.1f} | {tg(j)/tg(full):.3f}x | {d['hit_rate']*100:.1f}% | {s['bytes_read']/1024:.0f} | "
          f"{e['stall_us']/1000:.1f} | {e['mean_lead_us']:.0f} | {e['compute_us']/1000:.1f} ({100*e['compute_us']/1000/total_ms(j):.1f}%) |")
# The SSD reads of each run (warm-up repetition included; preload and
# hot-row warm-up excluded), as the store counted them: reads after merging
# rows that share pages, system calls, and CPU time per row read, inside the
# read calls and of the I/O threads altogether (queue, wake-ups, copies).
print("\nSSD reads of the runs (the store's figures, ENGRAM_STORE_IO_STATS):\n")
print("| run | backend | rows read | reads | syscalls | I/O CPU us/row | I/O-thread CPU us/row | process user s | process sys s |")
print("|---|---|---|---|---|---|---|---|---|")
for n in ["b25-prefetch", "b25-noprefetch", "b5-prefetch", "b5-noprefetch", "b0.5-prefetch", "b0.5-noprefetch", "b5-cold"]:
    p = os.path.join(out, n + ".io.jsonl")
    if not os.path.exists(p):
        continue
    a = {}
    for line in open(p):
        x = json.loads(line)
        for k in ["rows", "reads", "syscalls", "io_cpu_ns", "thread_cpu_ns"]:
            a[k] = a.get(k, 0) + x[k]
        a["backend"] = x["backend"]
    rows = max(a["rows"], 1)
    tp = os.path.join(out, n + ".time.json")
    tm = json.load(open(tp)) if os.path.exists(tp) else {"user_s": float("nan"), "sys_s": float("nan")}
    print(f"| {n} | {a['backend']} | {a['rows']} | {a['reads']} | {a['syscalls']} | {a['io_cpu_ns'] / 1e3 / rows:.2f} | "
          f"{a['thread_cpu_ns'] / 1e3 / rows:.2f} | {tm['user_s']:.1f} | {tm['sys_s']:.1f} |")

x = load("store-io"); io = x["io"]
print(f"\nengram-store-bench (the SSD path alone, {x['rows_per_request']} random rows per request, {x['in_flight']} "
      f"in flight, {x['io_threads']} I/O threads, {io['backend']}): {x['rows_per_s']:.0f} rows/s, "
      f"{io['reads'] / max(io['rows'], 1):.2f} reads and {io['syscalls'] / max(io['rows'], 1):.2f} syscalls per row, "
      f"CPU per row: {io['io_cpu_us_per_row']:.2f} us in the reads, {io['thread_cpu_us_per_row']:.2f} us of the I/O "
      f"threads, {x['process_cpu_us_per_row']:.2f} us of the process ({x['process_sys_us_per_row']:.2f} us system)")

r = json.load(open(os.path.join(out, "replay.json")))
print("\nbN: DRAM budget N% of the tables, cache taught the warm text first (engram-warm, hot-row statistics "
      "loaded at start); b5-cold: no statistics. Model file evicted from the page cache before each run.")
print(f"\nCache policies replayed on all {r['tokens']} tokens ({r['distinct_rows']} distinct rows; capacity "
      "as a share of each table):\n")
print("| DRAM capacity | LRU hit rate | W-TinyLFU hit rate |")
print("|---|---|---|")
for x in r["results"]:
    print(f"| {x['capacity']} | {x['lru']['hit_rate']*100:.1f}% | {x['w-tinylfu']['hit_rate']*100:.1f}% |")

# The planner's prediction next to the measurement, per placement.
mib = lambda b: f"{b / 2**20:.0f}"
print("\nPredicted (planner) vs measured, per placement; memory in MiB (DRAM: weights + KV + Engram rows + scratch; "
      "SSD: Engram rows left on the file):\n")
print("| placement | decode tok/s predicted | measured | measured/predicted | DRAM predicted | DRAM measured | "
      "SSD predicted | SSD measured | DRAM hit rate predicted | measured |")
print("|---|---|---|---|---|---|---|---|---|---|")
for n, label in [("base", "SmolLM2, CPU"), ("b100-prefetch", "+8 GiB Engram, 100% in DRAM"),
                 ("b25-prefetch", "+8 GiB Engram, 25% in DRAM"), ("b5-prefetch", "+8 GiB Engram, 5% in DRAM")]:
    j = load(n); p = j["plan"]; t = p["tiers"]
    pred = p["predicted_decode_tokens_per_s"]
    hit_p = hit_m = "-"
    if "engram" in j:
        hit_m = f"{j['engram']['tiers']['dram']['hit_rate'] * 100:.0f}%"
        hit_p = f"{p['engram_dram_hit_rate'] * 100:.0f}%"
    print(f"| {label} | {pred:.1f} | {tg(j):.1f} | {tg(j) / pred:.2f} | {mib(t['predicted']['dram']['bytes'])} | "
          f"{mib(t['measured']['dram']['bytes'])} | {mib(t['predicted']['ssd']['bytes'])} | "
          f"{mib(t['measured']['ssd']['bytes'])} | {hit_p} | {hit_m} |")
EOF
