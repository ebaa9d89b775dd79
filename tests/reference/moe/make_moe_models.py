#!/usr/bin/env python3
"""Tiny random-weight mixture-of-experts GGUF models (`qwen3moe`, `olmoe`) for
the MoE architecture tests. Their reference logits come from the float64
forward in moe_exact.py (beside this script), which also runs llama.cpp on
them and records the agreement; it reads MODELS below for each prompt text.

Run with the reference venv (gguf 0.19.0, numpy, llama-cpp-python 0.3.16):
  ~/.cache/engram-desktop/refenv/bin/python tests/reference/moe/make_moe_models.py
  ~/.cache/engram-desktop/refenv/bin/python tests/reference/moe/moe_exact.py

Writes beside this script:
  qwen3moe-tiny.gguf  qwen3 attention (per-head Q/K RMSNorm, NeoX RoPE, GQA 4/2,
                      key_length 32 != n_embd / n_head), MoE FFN in every block:
                      8 experts, 2 used, softmax router, top-k weights renormalized
                      (llama.cpp: norm_w = true for qwen3moe), expert width 32 from
                      `qwen3moe.expert_feed_forward_length` (the dense
                      `feed_forward_length` is 96 and must NOT be used), tied output
  olmoe-tiny.gguf     OLMoE: Q/K RMSNorm over the whole projection (weights
                      [n_head*head_dim], not per head), NeoX RoPE, n_head_kv = n_head
                      (llama.cpp shapes attn_k_norm as {n_embd}), MoE FFN in every
                      block: 8 experts, 2 used, softmax router, top-k weights NOT
                      renormalized, expert width 32 (= feed_forward_length, which is
                      what llama.cpp uses for olmoe), untied output

Tensor layout (GGUF ne order; NumPy shape is ne reversed):
  blk.N.ffn_gate_inp.weight   ne [n_embd, n_expert]             router: logits = W h
  blk.N.ffn_gate_exps.weight  ne [n_embd, n_ff_exp, n_expert]   expert e: rows [e] of the numpy [E, F, D] array
  blk.N.ffn_up_exps.weight    ne [n_embd, n_ff_exp, n_expert]
  blk.N.ffn_down_exps.weight  ne [n_ff_exp, n_embd, n_expert]   numpy [E, D, F]
  gate and up are separate tensors (no fused gate_up).

Everything is deterministic from SEED (a rerun rewrites the same bytes). F32
weights, scales as in tests/reference/arch/make_arch_models.py so activations
are O(1); the router's logits have std ~1.5 so different tokens pick different
experts (moe_exact.py prints the selection histogram and the smallest margin
between the k-th and (k+1)-th router logit).
"""
import os
import sys

import gguf
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "arch"))
from make_arch_models import add_tokenizer, finish, vocab, write_all  # noqa: E402  the same tiny byte-level BPE vocabulary

SEED = 20261206
# Each model's weights come from the stream default_rng([SEED, model index, variant]).
# The variant is the first one (from 0) whose float64 forward keeps every router
# decision and every greedy step clear of rounding, found by
# `moe_exact.py search` (see MIN_ROUTER_MARGIN and MIN_GREEDY_GAP there): with
# random weights some token eventually sits within ~1e-3 of a router tie, and
# llama.cpp (F16 KV cache, float32 sums) then picks the other expert.
VARIANT_QWEN3MOE = 2
VARIANT_OLMOE = 16

MODELS = [
    dict(name="qwen3moe-tiny", arch="qwen3moe", pre="qwen2", n_embd=64, n_head=4, n_head_kv=2, head_dim=32,
         n_ff=96, n_ff_exp=32, n_expert=8, n_expert_used=2, n_layer=3, rope_base=1000000.0, tied=True, variant=VARIANT_QWEN3MOE,
         specials=["<|endoftext|>", "<|im_start|>", "<|im_end|>"], bos="<|endoftext|>", eos="<|im_end|>",
         text="<|im_start|>user\nthe cat in the hat sat on the hat<|im_end|>\n"),
    dict(name="olmoe-tiny", arch="olmoe", pre="olmo", n_embd=64, n_head=4, n_head_kv=4, head_dim=16,
         n_ff=32, n_ff_exp=32, n_expert=8, n_expert_used=2, n_layer=3, rope_base=10000.0, tied=False, variant=VARIANT_OLMOE,
         specials=["<|endoftext|>", "<|padding|>"], bos="<|endoftext|>", eos="<|endoftext|>",
         text="a cat sat on the hat; the cat in the hat at the sea"),
]


def write_model(spec, path, variant=None):
    variant = spec["variant"] if variant is None else variant
    rng = np.random.default_rng([SEED, MODELS.index(spec), variant])
    tokens, types, sid = vocab(spec["specials"])
    n_vocab, D, H, HKV, HD = len(tokens), spec["n_embd"], spec["n_head"], spec["n_head_kv"], spec["head_dim"]
    E, F = spec["n_expert"], spec["n_ff_exp"]
    arch = spec["arch"]

    w = gguf.GGUFWriter(path, arch)
    w.add_name(spec["name"])
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    w.add_context_length(256)
    w.add_embedding_length(D)
    w.add_block_count(spec["n_layer"])
    w.add_feed_forward_length(spec["n_ff"])
    w.add_expert_feed_forward_length(F)
    w.add_expert_count(E)
    w.add_expert_used_count(spec["n_expert_used"])
    w.add_head_count(H)
    w.add_head_count_kv(HKV)
    if HD != D // H:
        w.add_key_length(HD)
        w.add_value_length(HD)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_rope_freq_base(spec["rope_base"])

    add_tokenizer(w, spec, tokens, types, sid, add_bos=False)

    def normal(shape, std):
        return (rng.standard_normal(shape) * std).astype(np.float32)

    def norm_weight(n):  # around 1, but not 1, so a missing or misplaced norm shows
        return (1.0 + rng.standard_normal(n) * 0.2).astype(np.float32)

    # numpy shape is GGUF's ne reversed: [n_out, n_in] here is ne = [n_in, n_out].
    w.add_tensor("token_embd.weight", normal((n_vocab, D), 0.25 if spec["tied"] else 1.0))
    w.add_tensor("output_norm.weight", norm_weight(D))
    if not spec["tied"]:
        w.add_tensor("output.weight", normal((n_vocab, D), 0.25))
    for il in range(spec["n_layer"]):
        p = f"blk.{il}."
        w.add_tensor(p + "attn_norm.weight", norm_weight(D))
        w.add_tensor(p + "attn_q.weight", normal((H * HD, D), 1.5 / np.sqrt(D)))
        w.add_tensor(p + "attn_k.weight", normal((HKV * HD, D), 1.5 / np.sqrt(D)))
        w.add_tensor(p + "attn_v.weight", normal((HKV * HD, D), 1.0 / np.sqrt(D)))
        if arch == "qwen3moe":    # per head, before RoPE
            w.add_tensor(p + "attn_q_norm.weight", norm_weight(HD))
            w.add_tensor(p + "attn_k_norm.weight", norm_weight(HD))
        else:                     # olmoe: over the whole projection, before RoPE
            w.add_tensor(p + "attn_q_norm.weight", norm_weight(H * HD))
            w.add_tensor(p + "attn_k_norm.weight", norm_weight(HKV * HD))
        w.add_tensor(p + "attn_output.weight", normal((D, H * HD), 1.0 / np.sqrt(H * HD)))
        w.add_tensor(p + "ffn_norm.weight", norm_weight(D))
        w.add_tensor(p + "ffn_gate_inp.weight", normal((E, D), 1.5 / np.sqrt(D)))
        w.add_tensor(p + "ffn_gate_exps.weight", normal((E, F, D), 1.0 / np.sqrt(D)))
        w.add_tensor(p + "ffn_up_exps.weight", normal((E, F, D), 1.0 / np.sqrt(D)))
        w.add_tensor(p + "ffn_down_exps.weight", normal((E, D, F), 1.0 / np.sqrt(F)))

    finish(w)
    return n_vocab


if __name__ == "__main__":
    write_all(MODELS, write_model, HERE)
