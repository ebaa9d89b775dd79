#!/usr/bin/env python3
"""The driver of scripts/bench-matrix.sh (run it through that script: it
fetches the model, installs llama-cpp-python and builds engram-bench first).

Runs engram-bench and llama.cpp (llama-cpp-python, scripts/bench/
llamacpp_bench.py) one after the other on the same files with the same
threads, and optionally ik_llama.cpp's llama-bench, and prints one Markdown
table of tokens/s and ratios. Cells:

  models   smollm2: the real SmolLM2-135M-Instruct in Q4_1 (the app's default
           file), Q8_0 and Q4_K_M; 1b and 8b: llama-shaped random-weight
           models forged once in F16 by engram-cli, each type then made by
           llama.cpp's own quantizer with --pure (every 2-D weight that type),
           so both engines read the same bytes
  types    q4_0 q4_k q5_k q6_k q8_0 (synthetic), mxfp4 (1b: gpt-oss's expert
           type, here in every matrix), iq4_xs iq3_s iq2_xxs (1b; iq2_xxs with
           random codes, random_codes.py: llama.cpp needs an importance matrix
           for it), q4_1 q8_0 q4_k_m (smollm2)
  tests    pp: prefill 512; tg: decode 128; depth: decode 128 after a context
           of 4096 tokens; busy: pp and tg while one `sha256sum /dev/zero` per
           core competes for every core (at the highest thread count, on one
           type per model)

Every run's JSON (and its stderr) is kept under --out; the table goes to
stdout and to OUT/matrix.md, all cells to OUT/results.json.
"""
import argparse
import ctypes
import datetime
import json
import os
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import requantize  # noqa: E402  (describe(): the types a file holds)

GIB = 1 << 30
# Bits per weight of each type (blocks with their scales), for disk estimates.
BPW = {"f16": 16.0, "q4_0": 4.5, "q4_1": 5.0, "q4_k": 4.5, "q4_k_m": 4.9, "q5_k": 5.5, "q6_k": 6.5625, "q8_0": 8.5,
       "mxfp4": 4.25, "iq4_xs": 4.25, "iq3_s": 3.4375, "iq2_xxs": 2.0625}
TYPE_LABEL = {"q4_0": "Q4_0", "q4_1": "Q4_1", "q4_k": "Q4_K", "q4_k_m": "Q4_K_M", "q5_k": "Q5_K", "q6_k": "Q6_K",
              "q8_0": "Q8_0", "mxfp4": "MXFP4", "iq4_xs": "IQ4_XS", "iq3_s": "IQ3_S", "iq2_xxs": "IQ2_XXS"}
TESTS = ("pp", "tg", "depth", "busy")

# The synthetic shapes. 1B: Llama-3.2-1B's blocks with a 32000 vocabulary,
# tied output as Llama-3.2-1B has; 8B: Llama-3-8B (untied output). Their
# context is 8192 so that -d 4096 + 128 fits.
SHAPES = {
    "1b": dict(n_layer=16, n_embd=2048, n_head=32, n_head_kv=8, n_ff=8192, vocab=32000, untied=False),
    "8b": dict(n_layer=32, n_embd=4096, n_head=32, n_head_kv=8, n_ff=14336, vocab=128256, untied=True),
}
# reps: repetitions of pp/tg (and busy), depth_reps: of the depth test (after
# its untimed 4096-token context; 128 tokens each, never fewer); chosen so the
# whole matrix finishes on a 2-core machine in an evening plus a night.
MODELS = {
    "smollm2": dict(label="SmolLM2-135M", types=["q4_1", "q8_0", "q4_k_m"], reps=3, depth_reps=3, busy="q4_1"),
    "1b": dict(label="llama 1B (synthetic)", types=["q4_0", "q4_k", "q5_k", "q6_k", "q8_0", "mxfp4", "iq4_xs", "iq3_s",
                                                   "iq2_xxs"], reps=3, depth_reps=1,
               busy="q4_k"),
    "8b": dict(label="llama 8B (synthetic)", types=["q4_0", "q4_k", "q5_k", "q6_k", "q8_0"], reps=1, depth_reps=1,
               busy="q4_k"),
}
# --quick: about three minutes on 2 idle cores once the files exist.
# The busy row there is one repetition: llama.cpp's threads wait for each
# other at every step, so under load it may run several times slower.
QUICK = dict(models={"smollm2": ["q4_1"], "1b": ["q4_k"]}, reps={"smollm2": 3, "1b": 1}, busy_reps=1,
             depth={"smollm2"}, busy={"smollm2"})


def log(*a):
    print("bench-matrix:", *a, file=sys.stderr, flush=True)


def die(msg):
    log("error:", msg)
    sys.exit(1)


def params_of(shape):
    s = SHAPES[shape]
    e, kv = s["n_embd"], s["n_embd"] // s["n_head"] * s["n_head_kv"]
    block = 2 * e * e + 2 * e * kv + 3 * e * s["n_ff"]
    return s["n_layer"] * block + s["vocab"] * e * (2 if s["untied"] else 1)


def free_bytes(path):
    return shutil.disk_usage(path).free


def nice_child():
    os.nice(19)


# --- the busy load -----------------------------------------------------------

PR_SET_PDEATHSIG = 1


def _dies_with_driver():
    # The child is killed when the driver ends, whatever ends it (SIGKILL too).
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class Load:
    """n processes of `sha256sum /dev/zero`: one per core keeps every core
    busy. Their pids are listed in pidfile while they run (the shell script's
    trap kills what is listed there), and stop() / the driver's exit end them."""

    def __init__(self, n, pidfile):
        self.n, self.pidfile, self.procs = n, pidfile, []

    def _write(self):
        if self.pidfile:
            with open(self.pidfile, "w") as f:
                f.write("".join(f"{p.pid}\n" for p in self.procs))

    def start(self):
        for _ in range(self.n):
            self.procs.append(subprocess.Popen(["sha256sum", "/dev/zero"], stdout=subprocess.DEVNULL,
                                               stderr=subprocess.DEVNULL, preexec_fn=_dies_with_driver))
        self._write()
        time.sleep(1.0)  # let them take the cores before the engine starts

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
        for p in self.procs:
            p.wait()
        self.procs = []
        self._write()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()


# --- model files ---------------------------------------------------------------

class Files:
    def __init__(self, a):
        self.a = a
        self.models_dir = os.path.join(a.cache, "models")
        self.bench_dir = os.path.join(a.cache, "bench")
        os.makedirs(self.bench_dir, exist_ok=True)
        self.described = {}

    def path(self, model, ty):
        if model == "smollm2":
            if ty == "q4_1":
                return self.a.smollm2
            return os.path.join(self.models_dir, f"SmolLM2-135M-Instruct.{TYPE_LABEL[ty]}.gguf")
        return os.path.join(self.bench_dir, f"llama-{model}.{TYPE_LABEL[ty]}.gguf")

    def f16(self, shape):
        return os.path.join(self.bench_dir, f"llama-{shape}.F16.gguf")

    def quantize(self, src, dst, ty, pure):
        cmd = [sys.executable, os.path.join(HERE, "requantize.py"), src, dst, ty, "--threads", str(self.a.nproc)]
        if pure:
            cmd.append("--pure")
        if ty == "iq2_xxs":
            # llama.cpp will not quantize IQ2_XXS without an importance matrix
            # (which llama-cpp-python cannot pass): random codes of the right
            # magnitude in a file both engines read (random_codes.py)
            cmd = [sys.executable, os.path.join(HERE, "random_codes.py"), src, dst]
        log(f"quantizing {os.path.basename(dst)} with llama.cpp's quantizer ...")
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=nice_child)
        if r.returncode != 0:
            tail = "\n".join(r.stderr.strip().splitlines()[-5:])
            die(f"llama.cpp's quantizer refused {os.path.basename(dst)} ({ty}{' pure' if pure else ''}):\n{tail}")
        self.described[dst] = requantize.describe(dst) if ty == "iq2_xxs" else json.loads(r.stdout.strip().splitlines()[-1])

    def forge(self, shape, types):
        s, out = SHAPES[shape], self.f16(shape)
        n = params_of(shape)
        need = n * 2 + sum(n * BPW[t] / 8 for t in types) + GIB
        if free_bytes(self.bench_dir) < need:
            die(f"{shape}: the F16 file and {', '.join(types)} need about {need / GIB:.0f} GiB on "
                f"{self.bench_dir}; {free_bytes(self.bench_dir) / GIB:.0f} GiB are free")
        log(f"forging {out} ({n / 1e9:.2f} B parameters, F16, random weights) ...")
        cmd = [self.a.cli, "forge", "--synthetic", "llama", "--n-layer", str(s["n_layer"]), "--n-embd",
               str(s["n_embd"]), "--n-head", str(s["n_head"]), "--n-head-kv", str(s["n_head_kv"]), "--n-ff",
               str(s["n_ff"]), "--vocab", str(s["vocab"]), "--ctx", "8192", "--type", "f16", "--seed", "1",
               "--out", out] + (["--untied"] if s["untied"] else [])
        r = subprocess.run(cmd, stderr=subprocess.PIPE, text=True, preexec_fn=nice_child)
        if r.returncode != 0:
            die(f"engram-cli forge failed: {r.stderr.strip()}")

    def prepare(self, cells):
        """Makes the files the cells need that are not in the cache yet."""
        want = {}
        for c in cells:
            want.setdefault(c["model"], [])
            if c["type"] not in want[c["model"]]:
                want[c["model"]].append(c["type"])
        for model, types in want.items():
            missing = [t for t in types if not os.path.exists(self.path(model, t))]
            if model == "smollm2":
                # Q8_0 and Q4_K_M are made from the Q4_1 download: that adds
                # quantization error, but both engines read the same bytes,
                # which is what a speed comparison needs. 576 columns are not
                # a multiple of 256, so llama.cpp's Q4_K_M mix falls back to
                # other types for some tensors (the file users would get).
                for t in missing:
                    self.quantize(self.a.smollm2, self.path(model, t), t, pure=False)
                continue
            if missing and not os.path.exists(self.f16(model)):
                self.forge(model, missing)
            for t in missing:
                self.quantize(self.f16(model), self.path(model, t), t, pure=True)
            # The F16 file is only an intermediate (16 GB for 8B): it goes
            # when the disk is short, and a later run forges it again (same
            # seed, same bytes).
            f16 = self.f16(model)
            if missing and os.path.exists(f16) and free_bytes(self.bench_dir) < self.a.min_free_gb * GIB:
                log(f"removing {f16}: less than {self.a.min_free_gb} GiB free")
                os.unlink(f16)

    def describe(self, path):
        if path not in self.described:
            self.described[path] = requantize.describe(path)
        return self.described[path]


# --- runs ----------------------------------------------------------------------

def run_json(cmd, out_json, load=None):
    """Runs cmd (its stdout is JSON), keeps stdout in out_json and stderr next
    to it; returns (parsed JSON or None, error sentence or None, seconds)."""
    t0 = time.monotonic()
    err_path = out_json[:-5] + ".log"
    with open(out_json, "w") as fo, open(err_path, "w") as fe:
        fe.write("$ " + " ".join(cmd) + "\n")
        fe.flush()
        if load:
            with load:
                rc = subprocess.run(cmd, stdout=fo, stderr=fe, preexec_fn=_dies_with_driver).returncode
        else:
            rc = subprocess.run(cmd, stdout=fo, stderr=fe, preexec_fn=_dies_with_driver).returncode
    secs = time.monotonic() - t0
    if rc != 0:
        lines = [l for l in open(err_path).read().strip().splitlines()[1:] if l.strip()]
        return None, f"exit {rc}: {lines[-1] if lines else 'no message'} (see {err_path})", secs
    try:
        return json.load(open(out_json)), None, secs
    except ValueError as e:
        return None, f"no JSON on stdout ({e}; see {err_path})", secs


def earlier(out_json, path, c, common):
    """The JSON of an earlier run of this cell (--resume), when it is whole and
    was measured with the same file, threads, token counts and repetitions."""
    try:
        j = json.load(open(out_json))
    except (OSError, ValueError):
        return None
    want = dict(zip(common[0::2], common[1::2]))
    same = (j.get("model") == path and j.get("threads") == c["threads"] and
            j.get("repetitions") == c["reps"] and j.get("n_prompt") == int(want["-p"]) and
            j.get("n_gen") == int(want["-n"]) and j.get("n_depth", 0) == int(want.get("-d", 0)))
    return j if same else None


def rate(j, key):
    if not j or key not in j:
        return None
    v = j[key]
    return {"median": v["median"], "stddev": v.get("stddev", 0.0), "min": v.get("min"), "max": v.get("max")}


def ik_rates(entries, kind):
    """pp / tg / depth-tg figures out of llama-bench's JSON (ik_llama.cpp's or
    mainline's: tg at depth is ik's -gp entry "tg128@pp4096", or mainline's
    n_depth > 0)."""
    out = {}
    for e in entries if isinstance(entries, list) else []:
        npmt, ngen, depth = e.get("n_prompt", 0), e.get("n_gen", 0), e.get("n_depth", 0)
        r = {"median": e.get("avg_ts"), "stddev": e.get("stddev_ts", 0.0)}
        at_depth = "@" in str(e.get("test", "")) or depth > 0
        if kind == "depth":
            if ngen > 0 and at_depth:
                out["decode_tokens_per_s"] = r
        elif npmt > 0 and ngen == 0 and not at_depth:
            out["prefill_tokens_per_s"] = r
        elif npmt == 0 and ngen > 0 and not at_depth:
            out["decode_tokens_per_s"] = r
    return out


def plan(a):
    """The cells, in the order they run: model, type, threads, kind (plain:
    pp and tg in one run; depth; busy)."""
    models = [m for m in MODELS if m in a.models]
    cells = []
    tmax = max(a.threads)
    for m in models:
        spec = MODELS[m]
        types = [t for t in spec["types"] if t in a.types]
        if a.quick:
            types = [t for t in types if t in QUICK["models"].get(m, [])]
        if not types:
            continue
        busy_type = spec["busy"] if spec["busy"] in types else types[0]
        reps = a.reps or (QUICK["reps"][m] if a.quick else spec["reps"])
        depth_reps = a.reps or (1 if a.quick else spec["depth_reps"])
        for t in types:
            for th in a.threads:
                if "pp" in a.tests or "tg" in a.tests:
                    cells.append(dict(model=m, type=t, threads=th, kind="plain", reps=reps))
                if "depth" in a.tests and a.depth > 0 and (not a.quick or m in QUICK["depth"]):
                    cells.append(dict(model=m, type=t, threads=th, kind="depth", reps=depth_reps))
            if "busy" in a.tests and t == busy_type and (not a.quick or m in QUICK["busy"]):
                cells.append(dict(model=m, type=t, threads=tmax, kind="busy",
                                  reps=a.reps or (QUICK["busy_reps"] if a.quick else spec["reps"])))
    return cells


def engine_args(a, kind):
    p = a.n_prompt if ("pp" in a.tests or kind == "busy") else 0
    n = a.n_gen if ("tg" in a.tests or kind == "busy") else 0
    if kind == "depth":
        return ["-p", "0", "-n", str(a.n_gen), "-d", str(a.depth)]
    return ["-p", str(p), "-n", str(n)]


def measure(a, files, cells, pidfile):
    os.makedirs(a.out, exist_ok=True)
    load = Load(a.busy_procs, pidfile)
    results = []
    t_start = time.monotonic()
    for i, c in enumerate(cells, 1):
        path = files.path(c["model"], c["type"])
        stem = os.path.join(a.out, f"{c['model']}.{c['type']}.t{c['threads']}.{c['kind']}")
        common = engine_args(a, c["kind"]) + ["-t", str(c["threads"]), "-r", str(c["reps"])]
        busy = load if c["kind"] == "busy" else None
        row = dict(c, file=path, engines={})
        log(f"[{i}/{len(cells)}] {c['model']} {TYPE_LABEL[c['type']]} t={c['threads']} {c['kind']} r={c['reps']}")
        if a.resume and not a.ik_llama_bench:
            kept = {n: earlier(f"{stem}.{n}.json", path, c, common) for n in ("engram", "llama.cpp")}
            if all(kept.values()):
                row["engines"] = {n: dict(json=j, error=None, seconds=None) for n, j in kept.items()}
                row["resumed"] = True
                results.append(row)
                log("  kept from an earlier run")
                continue
        runs = [("engram", [a.bench, "-m", path] + common),
                ("llama.cpp", [sys.executable, os.path.join(HERE, "llamacpp_bench.py"), "-m", path] + common)]
        for name, cmd in runs:
            j, err, secs = run_json(cmd, f"{stem}.{name}.json", busy)
            row["engines"][name] = dict(json=j, error=err, seconds=secs)
            if err:
                log(f"  {name} failed: {err}")
            else:
                log(f"  {name}: {secs:.0f} s")
        if a.ik_llama_bench and c["kind"] != "depth":
            cmd = ([a.ik_llama_bench, "-m", path] + engine_args(a, c["kind"]) +
                   ["-t", str(c["threads"]), "-r", str(c["reps"]), "-o", "json"])
            j, err, secs = run_json(cmd, f"{stem}.ik.json", busy)
            row["engines"]["ik"] = dict(json=ik_rates(j, "plain") if j else None, error=err, seconds=secs)
        elif a.ik_llama_bench:
            # ik_llama.cpp's llama-bench says -gp DEPTH,N; mainline's -d DEPTH.
            base = [a.ik_llama_bench, "-m", path, "-t", str(c["threads"]), "-r", str(c["reps"]), "-o", "json"]
            j, err, secs = run_json(base + ["-p", "0", "-n", "0", "-gp", f"{a.depth},{a.n_gen}"], f"{stem}.ik.json")
            if err:
                j, err, secs = run_json(base + ["-p", "0", "-n", str(a.n_gen), "-d", str(a.depth)], f"{stem}.ik.json")
            row["engines"]["ik"] = dict(json=ik_rates(j, "depth") if j else None, error=err, seconds=secs)
        results.append(row)
    return results, time.monotonic() - t_start


# --- the table -----------------------------------------------------------------

def fmt_rate(r):
    if not r or r.get("median") is None:
        return "—"
    s = f"{r['median']:.1f}" if r["median"] < 1000 else f"{r['median']:.0f}"
    if r.get("stddev"):
        s += f" ±{r['stddev']:.1f}" if r["stddev"] < 100 else f" ±{r['stddev']:.0f}"
    return s


def fmt_ratio(x, y):
    if not x or not y or x.get("median") is None or not y.get("median"):
        return "—"
    q = x["median"] / y["median"]
    return f"**{q:.2f}**" if q < 1.0 else f"{q:.2f}"


def cpu_model():
    try:
        out = subprocess.run(["lscpu"], stdout=subprocess.PIPE, text=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


def git_rev():
    try:
        rev = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout.strip()
        return rev + (" (uncommitted changes)" if dirty else "")
    except OSError:
        return "?"


def table(a, files, results, elapsed):
    ik = bool(a.ik_llama_bench)
    isa = sysinfo = version = fa = None
    for r in results:
        e, l = r["engines"]["engram"]["json"], r["engines"]["llama.cpp"]["json"]
        isa = isa or (e or {}).get("isa")
        sysinfo = sysinfo or (l or {}).get("system_info")
        version = version or (l or {}).get("version")
        fa = fa if fa is not None else (l or {}).get("flash_attn")
    lines = [
        "# engram-bench vs llama.cpp",
        "",
        f"- CPU: {cpu_model()}, {a.nproc} logical CPUs; engram kernels: {isa or '?'} (engram {git_rev()})",
        f"- llama.cpp: llama-cpp-python {version or '?'}, flash attention "
        f"{'?' if fa is None else ('on' if fa else 'off')}; {sysinfo or '?'}",
    ]
    if ik:
        lines.append(f"- ik: {a.ik_llama_bench} (its llama-bench with its own defaults)")
    busy = any(r["kind"] == "busy" for r in results)
    lines += [
        f"- threads {', '.join(map(str, a.threads))}; pp = prefill {a.n_prompt} tokens (batches of 512), "
        f"tg = decode {a.n_gen} tokens, @dN = after an untimed context of N tokens"
        + (f"; busy = while {a.busy_procs} × `sha256sum /dev/zero` run" if busy else ""),
        "- tokens/s: median ±stddev of r repetitions after one warm-up (r = 1: no spread); "
        "ratio = engram / llama.cpp, **bold** below 1.00",
        f"- {datetime.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}; {len(results)} cells in "
        f"{elapsed / 60:.1f} min; JSON in {a.out}",
        "",
    ]
    resumed = sum(1 for r in results if r.get("resumed"))
    if resumed:
        lines[-1:-1] = [f"- --resume: {resumed} of the {len(results)} cells were kept from an earlier run in "
                        f"{a.out} (its JSON, measured by the engram build of that time)"]
    head = "| model | type | thr | test | r | engram tok/s | llama.cpp tok/s | ratio |"
    sep = "|---|---|--:|---|--:|--:|--:|--:|"
    if ik:
        head += " ik tok/s | engram / ik |"
        sep += "--:|--:|"
    lines += [head, sep]
    for r in results:
        e, l = r["engines"]["engram"], r["engines"]["llama.cpp"]
        k = r["engines"].get("ik", {})
        tests = []
        if r["kind"] == "depth":
            tests.append(("decode_tokens_per_s", f"tg{a.n_gen} @d{a.depth}"))
        else:
            suffix = " busy" if r["kind"] == "busy" else ""
            if "pp" in a.tests or r["kind"] == "busy":
                tests.append(("prefill_tokens_per_s", f"pp{a.n_prompt}{suffix}"))
            if "tg" in a.tests or r["kind"] == "busy":
                tests.append(("decode_tokens_per_s", f"tg{a.n_gen}{suffix}"))
        for key, name in tests:
            x, y = rate(e["json"], key), rate(l["json"], key)
            cx = fmt_rate(x) if not e["error"] else "failed"
            cy = fmt_rate(y) if not l["error"] else "failed"
            row = (f"| {MODELS[r['model']]['label']} | {TYPE_LABEL[r['type']]} | {r['threads']} | {name} | "
                   f"{r['reps']} | {cx} | {cy} | {fmt_ratio(x, y)} |")
            if ik:
                z = (k.get("json") or {}).get(key)
                row += f" {fmt_rate(z) if not k.get('error') else 'failed'} | {fmt_ratio(x, z)} |"
            lines.append(row)
    lines += ["", "Files (2-D weight types as gguf-py reads them):", ""]
    seen = set()
    for r in results:
        if r["file"] in seen:
            continue
        seen.add(r["file"])
        d = files.describe(r["file"])
        kinds = ", ".join(f"{k} ×{v}" for k, v in d["weights_2d"].items())
        lines.append(f"- `{os.path.basename(r['file'])}`: {kinds}; token_embd {d['token_embd']}, "
                     f"output {d['output']}")
    errors = [(r, n, x["error"]) for r in results for n, x in r["engines"].items() if x["error"]]
    if errors:
        lines += ["", "Failures:", ""]
        lines += [f"- {r['model']} {TYPE_LABEL[r['type']]} t={r['threads']} {r['kind']}, {n}: {err}"
                  for r, n, err in errors]
    return "\n".join(lines) + "\n", bool(errors)


def listing(a, cells):
    for c in cells:
        print(f"{c['model']:8} {TYPE_LABEL[c['type']]:7} t={c['threads']} {c['kind']:6} r={c['reps']}")
    print(f"{len(cells)} cells")


def csv(s, choices=None, conv=str):
    v = [conv(x.strip()) for x in s.split(",") if x.strip()]
    if choices is not None:
        bad = [x for x in v if x not in choices]
        if bad:
            raise argparse.ArgumentTypeError(f"unknown {', '.join(map(str, bad))}; known: {', '.join(choices)}")
    return v


def main():
    nproc = os.cpu_count() or 1
    ap = argparse.ArgumentParser(prog="bench-matrix.sh", description="engram-bench vs llama.cpp, one table")
    ap.add_argument("--quick", action="store_true", help="a ~3-minute subset: SmolLM2 Q4_1 (with depth and busy) "
                    "and 1B Q4_K, at the highest thread count")
    ap.add_argument("--threads", type=lambda s: csv(s, conv=int),
                    help=f"thread counts (default 1,{nproc}: 1 and every core; --quick: {nproc})")
    ap.add_argument("--models", type=lambda s: csv(s, list(MODELS)), default=list(MODELS))
    ap.add_argument("--types", type=lambda s: csv(s, list(TYPE_LABEL)), default=list(TYPE_LABEL))
    ap.add_argument("--tests", type=lambda s: csv(s, TESTS), default=list(TESTS), help="pp,tg,depth,busy")
    ap.add_argument("--ik-llama-bench", metavar="PATH", help="ik_llama.cpp's llama-bench: adds its column")
    ap.add_argument("--out", help="directory for the JSON files and matrix.md (default BUILD/bench-matrix)")
    ap.add_argument("-r", "--reps", type=int, help="repetitions of every test (default: per model size)")
    ap.add_argument("-p", "--n-prompt", type=int, default=512, help="prefill tokens (smoke runs: fewer)")
    ap.add_argument("-n", "--n-gen", type=int, default=128, help="decode tokens (smoke runs: fewer)")
    ap.add_argument("--depth", type=int, default=4096, help="context before the depth test (0: no depth test)")
    ap.add_argument("--busy-procs", type=int, default=nproc, help="competing processes of the busy rows")
    ap.add_argument("--resume", action="store_true", help="keep the cells whose JSON in --out (both engines, "
                    "same file and parameters) an earlier, interrupted run left; run the rest")
    ap.add_argument("--list", action="store_true", help="print the cells and exit")
    ap.add_argument("--min-free-gb", type=float, default=float(os.environ.get("ENGRAM_BENCH_MIN_FREE_GB", 20)),
                    help="remove a synthetic F16 file after quantizing when less is free (GiB)")
    # Set by bench-matrix.sh:
    ap.add_argument("--build", required=True, help=argparse.SUPPRESS)
    ap.add_argument("--cache", required=True, help=argparse.SUPPRESS)
    ap.add_argument("--smollm2", required=True, help=argparse.SUPPRESS)
    ap.add_argument("--pidfile", help=argparse.SUPPRESS)
    a = ap.parse_args()
    a.nproc = nproc
    if not a.threads:
        a.threads = [nproc] if a.quick else sorted({1, nproc})
    a.out = os.path.abspath(a.out or os.path.join(a.build, "bench-matrix"))
    a.bench = os.path.join(a.build, "app", "engram-bench")
    a.cli = os.path.join(a.build, "app", "engram-cli")
    if a.ik_llama_bench and not (os.path.isfile(a.ik_llama_bench) and os.access(a.ik_llama_bench, os.X_OK)):
        die(f"--ik-llama-bench {a.ik_llama_bench} is not an executable file")
    if min(a.threads) < 1 or a.n_prompt < 1 or a.n_gen < 1 or a.depth < 0 or (a.reps is not None and a.reps < 1):
        die("threads, -p, -n and -r must be at least 1, --depth at least 0")
    if a.depth + a.n_gen + 1 > 8192:
        die(f"--depth {a.depth} + -n {a.n_gen} does not fit the models' 8192-token context")

    cells = plan(a)
    if not cells:
        die("no cells: the filters leave nothing to run")
    if a.list:
        listing(a, cells)
        return
    files = Files(a)
    files.prepare(cells)

    # SIGTERM/SIGHUP end the driver through its finally blocks (the busy load
    # stops); the load processes also die with it on SIGKILL (PDEATHSIG).
    def bye(signum, _frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, bye)
    signal.signal(signal.SIGHUP, bye)

    results, elapsed = measure(a, files, cells, a.pidfile)
    md, failed = table(a, files, results, elapsed)
    with open(os.path.join(a.out, "matrix.md"), "w") as f:
        f.write(md)
    with open(os.path.join(a.out, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    print(md, end="")
    log(f"{len(cells)} cells in {elapsed / 60:.1f} min; table in {os.path.join(a.out, 'matrix.md')}")
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
