#!/usr/bin/env python3
"""Float64 references for the MoE tiny models of make_moe_models.py, and
llama.cpp's logits on the same tokens with the measured agreement.

Run with the reference venv (numpy, gguf 0.19, llama-cpp-python 0.3.16), after
make_moe_models.py:
  ~/.cache/engram-desktop/refenv/bin/python tests/reference/moe/moe_exact.py
Deterministic (a few seconds on two cores); writes moe_reference.json beside it.

The float64 forward (weights as the file stores them, F32, then float64 math):
  x = token_embd[ids]
  per block:
    h = RMSNorm(x) * attn_norm                RMSNorm(v) = v / sqrt(mean(v^2) + eps)
    q = h Wq^T, k = h Wk^T, v = h Wv^T
    qwen3moe: RMSNorm over each head's head_dim dims of q and k, times attn_{q,k}_norm [head_dim]
    olmoe:    RMSNorm over the whole q (n_head*head_dim) and the whole k (n_head_kv*head_dim),
              times attn_{q,k}_norm [n_head*head_dim] / [n_head_kv*head_dim]
    NeoX RoPE (pairs (i, i + head_dim/2)), base from the file, both archs
    causal GQA attention, scores q.k / sqrt(head_dim); x += attn Wo^T
    h = RMSNorm(x) * ffn_norm
    MoE:  p = softmax(h Wr^T) over n_expert (Wr = ffn_gate_inp, numpy [E, D])
          S = the n_expert_used experts of largest p (ties: lower index first)
          w_e = p_e for e in S; qwen3moe: w_e /= sum_{S} p  (olmoe: no renormalization)
          x += sum_{e in S} w_e * ( (SiLU(h G_e^T) * (h U_e^T)) D_e^T )
          G_e = ffn_gate_exps[e] [F, D], U_e = ffn_up_exps[e] [F, D], D_e = ffn_down_exps[e] [D, F]
  logits = (RMSNorm(x) * output_norm) Wout^T     Wout = token_embd when output.weight is absent

These choices were confirmed against llama.cpp: the script also runs the
forward with each one flipped (no / forced top-k renormalization, per-head vs
whole-projection Q/K norm, adjacent-pair RoPE) and records how far each is from
llama.cpp ("ablations" in the JSON): only the forward above agrees to rounding.

moe_reference.json, per model:
  tokens          the prompt's ids (llama.cpp's tokenizer, special tokens parsed, no BOS added)
  logits          float64 logits at every prompt position [n_prompt][n_vocab]
  greedy          32 greedy tokens of the float64 forward (argmax, fed back), with
  greedy_top2_gap the float64 top-1 minus top-2 logit at each greedy step
  llama_cpp.logits        llama.cpp's logits at the same prompt positions (F32)
  llama_cpp.greedy        llama.cpp's own 32 greedy tokens (incremental decode, KV cache)
  agreement       over every position of prompt + float64 greedy (one llama.cpp batch):
                  max |logit diff|, KL(float64 || llama.cpp) per position, top-1 agreement,
                  and the smallest top-2 gap along the greedy path
  routing         over the same positions (prompt + greedy[:-1]), float64: the selected
                  experts per layer and position (largest router logit first), the
                  expert-selection histogram per layer, and the router-logit margin
                  (k-th minus (k+1)-th router logit) per layer and per position (min over
                  layers). A margin near rounding flips a selection and moves logits by
                  ~0.5: the weight variants were chosen (`search`) so that every margin is
                  >= MIN_ROUTER_MARGIN.
  ablations_...   max |logit diff| from llama.cpp of the forward with one choice flipped

  moe_exact.py search [NAME...]   prints, per model, the first weight variant of
  make_moe_models.py whose float64 path clears MIN_ROUTER_MARGIN, MIN_GREEDY_GAP and
  MIN_DISTINCT_GREEDY (VARIANT_* there hold the results).
"""
from __future__ import annotations

import json
import os
import sys

import gguf
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "model"))
from make_moe_models import MODELS  # noqa: E402
# The dense reference's pieces: the same float64 math for what is not MoE.
from make_exact_reference import (attention, log_softmax, rms_norm, rope, sha256,  # noqa: E402
                                  tensor_f64, top2_gap)

N_GREEDY = 32
# `search` accepts a weight variant only if, along prompt + float64 greedy path,
# every router decision (k-th minus (k+1)-th router logit, every layer and
# position) and every greedy step (top-1 minus top-2 logit) clears these. The
# measured llama.cpp-vs-float64 logit error is ~5e-3 on the output logits and
# smaller on router logits; a router margin of 5.6e-4 was seen to flip.
MIN_ROUTER_MARGIN = 0.01
MIN_GREEDY_GAP = 0.02
MIN_DISTINCT_GREEDY = 6   # and the continuation is not one token repeated (tied-embedding models loop easily)


class MoeDecoder:
    def __init__(self, path: str):
        r = gguf.GGUFReader(path)
        field = lambda key, default=None: (r.fields[key].contents() if key in r.fields else default)  # noqa: E731
        self.arch = field("general.architecture")
        assert self.arch in ("qwen3moe", "olmoe"), self.arch
        a = self.arch + "."
        self.n_embd = int(field(a + "embedding_length"))
        self.n_layer = int(field(a + "block_count"))
        self.n_head = int(field(a + "attention.head_count"))
        self.n_head_kv = int(field(a + "attention.head_count_kv", self.n_head))
        self.head_dim = int(field(a + "attention.key_length", self.n_embd // self.n_head))
        self.n_rot = int(field(a + "rope.dimension_count", self.head_dim))
        self.eps = float(np.float32(field(a + "attention.layer_norm_rms_epsilon", 1e-5)))
        self.rope_base = float(np.float32(field(a + "rope.freq_base", 10000.0)))
        self.n_expert = int(field(a + "expert_count"))
        self.n_expert_used = int(field(a + "expert_used_count"))
        # The choices under test (see the module docstring); ablate() flips them.
        self.norm_topk = self.arch == "qwen3moe"
        self.qk_norm_per_head = self.arch == "qwen3moe"
        self.neox = True
        self.rope_freqs, self.freq_scale = None, 1.0  # plain RoPE (make_exact_reference.rope)

        t = {x.name: x for x in r.tensors}
        self.tok_embd = tensor_f64(t["token_embd.weight"])
        self.n_vocab = self.tok_embd.shape[0]
        self.output_norm = tensor_f64(t["output_norm.weight"]).reshape(-1)
        self.output = tensor_f64(t["output.weight"]) if "output.weight" in t else self.tok_embd
        self.layers = []
        for il in range(self.n_layer):
            L = {n: tensor_f64(t[f"blk.{il}.{n}.weight"]) for n in (
                "attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "attn_q_norm", "attn_k_norm",
                "ffn_norm", "ffn_gate_inp", "ffn_gate_exps", "ffn_up_exps", "ffn_down_exps")}
            for n in ("attn_norm", "ffn_norm", "attn_q_norm", "attn_k_norm"):
                L[n] = L[n].reshape(-1)
            self.layers.append(L)
        self.n_ff_exp = self.layers[0]["ffn_gate_exps"].shape[1]


def moe(m, L, h, route_log):
    """h [T, D] -> the MoE FFN output [T, D]; appends (selected [T, k], router-logit margin [T]) to route_log.
    The margin is the k-th largest minus the (k+1)-th largest router logit: how far
    the selection is from flipping (softmax is monotonic, so logits order as probs)."""
    T, k = h.shape[0], m.n_expert_used
    r = h @ L["ffn_gate_inp"].T                                  # [T, E]
    p = np.exp(r - r.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    order = np.argsort(-r, axis=1, kind="stable")
    sel = order[:, :k]
    rs = np.sort(r, axis=1)[:, ::-1]
    route_log.append((sel, rs[:, k - 1] - rs[:, k]))
    out = np.zeros_like(h)
    for t in range(T):
        w = p[t, sel[t]]
        if m.norm_topk:
            w = w / w.sum()
        for j, e in enumerate(sel[t]):
            g = L["ffn_gate_exps"][e] @ h[t]
            u = L["ffn_up_exps"][e] @ h[t]
            out[t] += w[j] * (L["ffn_down_exps"][e] @ (g / (1.0 + np.exp(-g)) * u))
    return out


def forward(m, ids, route_log=None):
    """Logits [T, n_vocab] of a sequence from position 0."""
    route_log = [] if route_log is None else route_log
    ids = np.asarray(ids, dtype=np.int64)
    T, H, HKV, HD = len(ids), m.n_head, m.n_head_kv, m.head_dim
    pos = np.arange(T)
    x = m.tok_embd[ids].copy()
    causal = np.triu(np.ones((T, T), dtype=bool), 1)
    for L in m.layers:
        h = rms_norm(x, L["attn_norm"], m.eps)
        q, k, v = h @ L["attn_q"].T, h @ L["attn_k"].T, h @ L["attn_v"].T
        if m.qk_norm_per_head:
            q = rms_norm(q.reshape(T, H, HD), L["attn_q_norm"].reshape(-1)[:HD] if L["attn_q_norm"].size == HD
                         else L["attn_q_norm"].reshape(H, HD), m.eps)
            k = rms_norm(k.reshape(T, HKV, HD), L["attn_k_norm"].reshape(-1)[:HD] if L["attn_k_norm"].size == HD
                         else L["attn_k_norm"].reshape(HKV, HD), m.eps)
        else:
            if L["attn_q_norm"].size == H * HD:
                q, k = rms_norm(q, L["attn_q_norm"], m.eps), rms_norm(k, L["attn_k_norm"], m.eps)
            else:  # ablation on a per-head-weight file: whole-projection norm, weight tiled
                q, k = rms_norm(q, np.tile(L["attn_q_norm"], H), m.eps), rms_norm(k, np.tile(L["attn_k_norm"], HKV), m.eps)
            q, k = q.reshape(T, H, HD), k.reshape(T, HKV, HD)
        v = v.reshape(T, HKV, HD)
        q, k = rope(q, pos, m), rope(k, pos, m)
        x = x + attention(q, k, v, causal) @ L["attn_output"].T
        x = x + moe(m, L, rms_norm(x, L["ffn_norm"], m.eps), route_log)
    return rms_norm(x, m.output_norm, m.eps) @ m.output.T


def llama(path):
    from llama_cpp import Llama
    return Llama(model_path=path, n_ctx=256, n_threads=2, n_threads_batch=2, logits_all=True, seed=1234, verbose=False)


def llama_logits(path, ids):
    llm = llama(path)
    llm.eval(ids)
    return np.array(llm.scores[:len(ids)], dtype=np.float64)


def llama_greedy(path, ids, n):
    llm = llama(path)
    llm.eval(ids)
    out = []
    for _ in range(n):
        t = int(np.argmax(llm.scores[llm.n_tokens - 1]))
        out.append(t)
        llm.eval([t])
    return out


def compare(ref, got):
    lp, lq = log_softmax(ref), log_softmax(got)
    kl = np.sum(np.exp(lp) * (lp - lq), axis=1)
    return {"max_abs_logit_diff": float(np.abs(ref - got).max()),
            "kl_per_position": [float(v) for v in kl],
            "kl_max": float(kl.max()), "kl_mean": float(kl.mean()),
            "top1_agree": int((ref.argmax(1) == got.argmax(1)).sum()), "positions": int(ref.shape[0])}


def f32(v):
    return float(f"{float(v):.9g}")


def float64_path(m, ids):
    """float64 greedy from ids, then one forward over prompt + greedy[:-1] (the
    positions that predicted each greedy token) recording the routing."""
    seq, greedy, gaps = list(ids), [], []
    for _ in range(N_GREEDY):
        t, g = top2_gap(forward(m, seq)[-1])
        greedy.append(t)
        gaps.append(g)
        seq.append(t)
    full_seq = ids + greedy[:-1]
    routes = []
    ref = forward(m, full_seq, routes)
    return greedy, gaps, full_seq, ref, routes


def search(names, limit=200):
    """For each model: the first weight variant whose float64 path clears MIN_ROUTER_MARGIN and MIN_GREEDY_GAP."""
    import tempfile
    import make_moe_models as mm
    from llama_cpp import Llama
    for spec in MODELS:
        if names and spec["name"] not in names:
            continue
        voc = Llama(model_path=os.path.join(HERE, spec["name"] + ".gguf"), vocab_only=True, verbose=False)
        ids = [int(t) for t in voc.tokenize(spec["text"].encode(), add_bos=False, special=True)]
        del voc
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "m.gguf")
            for v in range(limit):
                mm.write_model(spec, path, v)
                m = MoeDecoder(path)
                greedy, gaps, _, _, routes = float64_path(m, ids)
                rmin = min(float(mg.min()) for _, mg in routes)
                print(f"{spec['name']} variant {v}: min router margin {rmin:.4f}, min greedy gap {min(gaps):.4f}, "
                      f"distinct greedy tokens {len(set(greedy))}", flush=True)
                if rmin >= MIN_ROUTER_MARGIN and min(gaps) >= MIN_GREEDY_GAP and len(set(greedy)) >= MIN_DISTINCT_GREEDY:
                    print(f"{spec['name']}: use variant {v}")
                    break


def make_one(spec):
    name = spec["name"]
    path = os.path.join(HERE, name + ".gguf")
    m = MoeDecoder(path)
    from llama_cpp import Llama
    voc = Llama(model_path=path, vocab_only=True, verbose=False)
    ids = [int(t) for t in voc.tokenize(spec["text"].encode(), add_bos=False, special=True)]
    del voc

    greedy, gaps, full_seq, ref, routes = float64_path(m, ids)
    got = llama_logits(path, full_seq)
    agree = compare(ref, got)
    agree["min_top2_gap_greedy"] = float(min(gaps))
    lgreedy = llama_greedy(path, ids, N_GREEDY)
    same = next((i for i, (a, b) in enumerate(zip(greedy, lgreedy)) if a != b), N_GREEDY)
    agree["greedy_identical_prefix"] = same

    # routing statistics (float64 forward over full_seq)
    hist = [np.bincount(sel.reshape(-1), minlength=m.n_expert).tolist() for sel, _ in routes]
    min_margin = [float(mg.min()) for _, mg in routes]
    pos_margin = [float(v) for v in np.min([mg for _, mg in routes], axis=0)]
    selected = [[[int(e) for e in row] for row in sel] for sel, _ in routes]

    # ablations: flip each choice and measure the distance from llama.cpp
    ablations = {}
    for label, attr in (("norm_topk flipped", "norm_topk"), ("qk_norm_per_head flipped", "qk_norm_per_head"),
                        ("neox flipped (adjacent-pair RoPE)", "neox")):
        setattr(m, attr, not getattr(m, attr))
        ablations[label] = float(np.abs(forward(m, full_seq) - got).max())
        setattr(m, attr, not getattr(m, attr))

    n = len(ids)
    entry = {"name": name, "file": name + ".gguf", "bytes": os.path.getsize(path), "sha256": sha256(path),
             "arch": m.arch, "n_vocab": m.n_vocab, "n_embd": m.n_embd, "n_layer": m.n_layer, "n_head": m.n_head,
             "n_head_kv": m.n_head_kv, "head_dim": m.head_dim, "n_expert": m.n_expert,
             "n_expert_used": m.n_expert_used, "n_ff_exp": m.n_ff_exp, "norm_topk": m.norm_topk,
             "qk_norm": "per_head" if m.qk_norm_per_head else "whole_projection",
             "text": spec["text"], "tokens": ids,
             "logits": [[float(v) for v in row] for row in ref[:n]],
             "greedy": greedy, "greedy_top2_gap": gaps,
             "llama_cpp": {"version": "llama-cpp-python 0.3.16", "logits": [[f32(v) for v in row] for row in got[:n]],
                           "greedy": lgreedy},
             "agreement": agree,
             "routing": {"positions": "prompt + greedy[:-1]", "histogram_per_layer": hist,
                         "min_router_logit_margin_per_layer": min_margin,
                         "min_router_logit_margin_per_position": pos_margin,
                         "selected_experts": selected},
             "ablations_max_abs_logit_diff_vs_llama_cpp": ablations}
    print(f"{name}: {m.arch}, {os.path.getsize(path)} bytes, prompt {n} tokens {ids}")
    print(f"  float64 greedy   {greedy}")
    print(f"  llama.cpp greedy {lgreedy}  (identical for the first {same} of {N_GREEDY})")
    print(f"  over {agree['positions']} positions: max |logit diff| {agree['max_abs_logit_diff']:.3e}, "
          f"KL max {agree['kl_max']:.3e} mean {agree['kl_mean']:.3e}, top-1 agree {agree['top1_agree']}/{agree['positions']}, "
          f"min top-2 gap on the greedy path {agree['min_top2_gap_greedy']:.4f}, "
          f"logits range [{ref.min():.2f}, {ref.max():.2f}]")
    for il, (h, mg) in enumerate(zip(hist, min_margin)):
        print(f"  layer {il}: expert histogram {h}, min router-logit margin {mg:.4f}")
    for k, v in ablations.items():
        print(f"  ablation {k}: max |logit diff| vs llama.cpp {v:.3e}")
    return entry


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "search":
        search(sys.argv[2:])
        return
    out = {"format": 1, "models": [make_one(spec) for spec in MODELS]}
    path = os.path.join(HERE, "moe_reference.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print("wrote", path, os.path.getsize(path), "bytes")


if __name__ == "__main__":
    main()
