#!/usr/bin/env python3
"""A tiny random-weight `gpt-oss` GGUF (OpenAI gpt-oss-20b/120b's architecture,
llama.cpp's LLM_ARCH_OPENAI_MOE) for the gpt-oss architecture tests. Its
reference logits come from the float64 forward in gptoss_exact.py (beside this
script), which also runs llama.cpp on it and records the agreement; it reads
SPEC below for the prompt text.

Run with the reference venv (gguf-py, numpy, llama-cpp-python 0.3.16):
  ~/.cache/engram-desktop/refenv/bin/python tests/reference/gptoss/make_gptoss_model.py
  ~/.cache/engram-desktop/refenv/bin/python tests/reference/gptoss/gptoss_exact.py

Writes gptoss-tiny.gguf beside this script: what gpt-oss has, small:
  n_embd 64, 4 blocks, n_head 4, n_head_kv 2, head_dim 64 (key_length = value_length
  = rope.dimension_count = 64 != n_embd / n_head, as in the real models: 2880 / 64 heads),
  Q/K/V/O biases, per-head attention sinks (blk.N.attn_sinks.weight),
  sliding-window attention (window 8) on even blocks, full attention on odd ones
  (llama.cpp: swa pattern 2, not a GGUF key), NeoX RoPE with YaRN scaling
  (factor 32 as the real models, original context 1024 instead of 4096 so that
  YaRN's ramp and interpolated dimensions turn by whole radians within 70 positions),
  post-attention RMSNorm (blk.N.post_attention_norm.weight, there is no ffn_norm),
  MoE FFN in every block: 8 experts, 2 used, router with bias, top-k of the router
  logits then softmax over the k selected, expert gate/up/down in MXFP4 with F32
  biases, the clamped "swiglu_oai" activation (alpha 1.702, limit 7), untied output.
  Vocabulary: the byte-level BPE of tests/reference/arch/make_arch_models.py plus
  the harmony control tokens; the real gpt-oss chat template.

Tensor layout (GGUF ne order; NumPy shape is ne reversed):
  token_embd.weight                 ne [64, n_vocab]          F32
  output_norm.weight                ne [64]                   F32
  output.weight                     ne [64, n_vocab]          F32
  blk.N.attn_norm.weight            ne [64]                   F32
  blk.N.attn_q.weight / .bias       ne [64, 256] / [256]      F32   (n_head * head_dim = 256)
  blk.N.attn_k.weight / .bias       ne [64, 128] / [128]      F32   (n_head_kv * head_dim = 128)
  blk.N.attn_v.weight / .bias       ne [64, 128] / [128]      F32
  blk.N.attn_output.weight / .bias  ne [256, 64] / [64]       F32
  blk.N.attn_sinks.weight           ne [4]                    F32   one logit per query head
  blk.N.post_attention_norm.weight  ne [64]                   F32
  blk.N.ffn_gate_inp.weight / .bias ne [64, 8] / [8]          F32   router
  blk.N.ffn_gate_exps.weight        ne [64, 32, 8]            MXFP4 expert e = slice ne[2] = e
  blk.N.ffn_gate_exps.bias          ne [32, 8]                F32   row e = expert e's bias
  blk.N.ffn_up_exps.weight / .bias  ne [64, 32, 8] / [32, 8]  MXFP4 / F32
  blk.N.ffn_down_exps.weight / .bias ne [32, 64, 8] / [64, 8] MXFP4 / F32

MXFP4 (GGML_TYPE_MXFP4 = 39): blocks of 32 consecutive values along ne0, 17
bytes each: one E8M0 exponent byte e, then 16 bytes of 4-bit E2M1 codes, byte j
holding value j in its low nibble and value j + 16 in its high nibble. Value =
KVALUES[code] * 2^(e - 128) with KVALUES = (0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2,
-3, -4, -6, -8, -12) (E2M1 doubled, hence 2^(e-128) = half of 2^(e-127)). The
bytes are written here (mxfp4_encode), and checked against gguf-py's dequantizer.

Weight scales (SCALES, ROUTE_DIMS below): chosen so that every feature moves the
logits far more than llama.cpp's rounding does, and the router's top-2 decisions
are not perturbed by it (see the comments there and README.md).

Everything is deterministic from SEED and VARIANT (a rerun rewrites the same bytes).
"""
import os
import sys

import gguf
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REF = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REF, "arch"))
from make_arch_models import add_tokenizer, finish, vocab, write_all  # noqa: E402  the tiny byte-level BPE vocabulary

SEED = 20261207
# The weights come from default_rng([SEED, VARIANT]). VARIANT is the first one
# (from 0) whose float64 forward keeps every router decision and every greedy
# step clear of rounding (`gptoss_exact.py search`, see the thresholds there).
VARIANT = 41

TEMPLATE = os.path.join(REF, "templates", "openai-gpt-oss-120b.jinja")  # openai/gpt-oss chat_template.jinja

# The harmony format's special tokens (o200k_harmony's names), all control tokens.
SPECIALS = ["<|startoftext|>", "<|endoftext|>", "<|return|>", "<|constrain|>", "<|channel|>",
            "<|start|>", "<|end|>", "<|message|>", "<|call|>"]

SPEC = dict(name="gptoss-tiny", arch="gpt-oss", pre="gpt-4o", n_embd=64, n_head=4, n_head_kv=2, head_dim=64,
            n_ff_exp=32, n_expert=8, n_expert_used=2, n_layer=4, n_swa=8,
            rope_base=150000.0, yarn_factor=32.0, yarn_orig_ctx=1024, rms_eps=1e-5,
            specials=SPECIALS, bos="<|startoftext|>", eos="<|return|>", pad="<|endoftext|>",
            # a harmony conversation cut where the model writes its final answer
            text="<|start|>user<|message|>the cat in the hat sat on the hat<|end|>"
                 "<|start|>assistant<|channel|>final<|message|>")

# MXFP4: E2M1 values doubled, indexed by the 4-bit code (ggml's kvalues_mxfp4).
KVALUES = np.array([0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12], dtype=np.float64)
QK_MXFP4 = 32


def mxfp4_encode(a: np.ndarray) -> np.ndarray:
    """float array [..., K] (K % 32 == 0) -> uint8 [..., K / 32 * 17], ggml's block_mxfp4.
    Exponent as ggml's quantize_row_mxfp4_ref: e = floor(log2(amax)) - 2 + 127 (0 for an
    all-zero block), each value the nearest code (the first of equals) at scale 2^(e-128)."""
    shape = a.shape
    blocks = a.reshape(-1, QK_MXFP4).astype(np.float64)
    amax = np.abs(blocks).max(axis=1)
    with np.errstate(divide="ignore"):
        e = np.where(amax > 0, np.floor(np.log2(np.where(amax > 0, amax, 1.0))) - 2 + 127, 0).astype(np.uint8)
    d = np.ldexp(1.0, e.astype(np.int64) - 128)
    codes = np.abs(blocks[:, :, None] / d[:, None, None] - KVALUES[None, None, :]).argmin(axis=2).astype(np.uint8)
    qs = codes[:, :16] | (codes[:, 16:] << np.uint8(4))
    out = np.concatenate([e[:, None], qs], axis=1)
    return out.reshape(*shape[:-1], shape[-1] // QK_MXFP4 * 17)


def mxfp4_decode(b: np.ndarray) -> np.ndarray:
    """uint8 [..., n * 17] -> float64 [..., n * 32], exactly (every value is a dyadic rational)."""
    shape = b.shape
    blocks = b.reshape(-1, 17)
    d = np.ldexp(1.0, blocks[:, 0].astype(np.int64) - 128)
    qs = blocks[:, 1:]
    codes = np.concatenate([qs & 0x0F, qs >> 4], axis=1)
    return (KVALUES[codes] * d[:, None]).reshape(*shape[:-1], shape[-1] // 17 * QK_MXFP4)


# Standard deviations of the random weights (a matrix's is divided by sqrt(fan_in)).
#  gate_up 2.5: expert gate/up pre-activations of std ~2.5, so swiglu_oai's clamps at 7
#    bite (~0.4% of the gate and ~0.6% of the up values on the reference path);
#  down 0.03 (attn_out 0.7): each block adds a small update to a residual stream of
#    O(1) embeddings, as in trained models. llama.cpp (and any engine that quantizes
#    activations for MXFP4 products) rounds the expert inputs and the swiglu output to
#    Q8_0, a ~1% error of the MoE output; kept small next to the residual, it moves the
#    logits by ~0.02 (gptoss_exact.py measures it) instead of ~0.1 with O(1) updates.
SCALES = dict(embd=1.0, attn_out=0.7, gate_up=2.5, gate_up_bias=0.5, down=0.03, down_bias=0.03,
              router_clean=2.0, router_ctx=0.3, router_bias=0.5)
# The last ROUTE_DIMS dimensions of the residual stream are written by no block
# (their rows of attn_output and ffn_down_exps and of both biases are 0): they hold
# the token embedding exactly. The router reads them with weights of std router_clean
# and the other 56 dimensions with router_ctx, so routing depends on the token and,
# more weakly, on the context. A router logit's rounding error then comes mostly from
# RMSNorm's scale (~4e-3 at worst, measured), not from the Q8_0-rounded expert outputs
# of earlier blocks (1.0-1.4e-2 with a router of logit std 1.5 reading all dimensions): with 264
# top-2 decisions on the reference path, that is what lets `search` find weights whose
# every decision clears MIN_ROUTER_MARGIN (0.01) with a margin over the rounding.
ROUTE_DIMS = 8


def write_model(spec, path, variant=None):
    variant = VARIANT if variant is None else variant
    rng = np.random.default_rng([SEED, variant])
    tokens, types, sid = vocab(spec["specials"])
    n_vocab, D, H, HKV, HD = len(tokens), spec["n_embd"], spec["n_head"], spec["n_head_kv"], spec["head_dim"]
    E, F, R = spec["n_expert"], spec["n_ff_exp"], ROUTE_DIMS

    w = gguf.GGUFWriter(path, spec["arch"])
    w.add_name(spec["name"])
    w.add_file_type(gguf.LlamaFileType.MOSTLY_MXFP4_MOE)
    w.add_context_length(int(spec["yarn_factor"] * spec["yarn_orig_ctx"]))
    w.add_embedding_length(D)
    w.add_block_count(spec["n_layer"])
    w.add_feed_forward_length(F)                 # as the real files: = the expert width
    w.add_expert_feed_forward_length(F)
    w.add_expert_count(E)
    w.add_expert_used_count(spec["n_expert_used"])
    w.add_head_count(H)
    w.add_head_count_kv(HKV)
    w.add_key_length(HD)
    w.add_value_length(HD)
    w.add_rope_dimension_count(HD)               # llama.cpp's n_rot, else n_embd / n_head = 16
    w.add_layer_norm_rms_eps(spec["rms_eps"])
    w.add_sliding_window(spec["n_swa"])
    w.add_rope_freq_base(spec["rope_base"])
    w.add_rope_scaling_type(gguf.RopeScalingType.YARN)
    w.add_rope_scaling_factor(spec["yarn_factor"])
    w.add_rope_scaling_orig_ctx_len(spec["yarn_orig_ctx"])

    add_tokenizer(w, spec, tokens, types, sid, add_bos=False)
    w.add_pad_token_id(sid[spec["pad"]])
    with open(TEMPLATE, encoding="utf-8") as f:
        w.add_chat_template(f.read())

    def normal(shape, std):
        return (rng.standard_normal(shape) * std).astype(np.float32)

    def norm_weight(n):  # around 1, but not 1, so a missing or misplaced norm shows
        return (1.0 + rng.standard_normal(n) * 0.2).astype(np.float32)

    def mxfp4(name, shape, std, zero_rows=0):
        a = rng.standard_normal(shape) * std
        if zero_rows:
            a[:, shape[1] - zero_rows:, :] = 0
        raw = mxfp4_encode(a)
        ref = gguf.quants.dequantize(raw, gguf.GGMLQuantizationType.MXFP4)
        assert np.array_equal(ref.astype(np.float64), mxfp4_decode(raw)), name
        w.add_tensor(name, raw, raw_dtype=gguf.GGMLQuantizationType.MXFP4)

    # numpy shape is GGUF's ne reversed: [n_out, n_in] here is ne = [n_in, n_out].
    w.add_tensor("token_embd.weight", normal((n_vocab, D), SCALES["embd"]))
    w.add_tensor("output_norm.weight", norm_weight(D))
    w.add_tensor("output.weight", normal((n_vocab, D), 0.25))
    for il in range(spec["n_layer"]):
        p = f"blk.{il}."
        w.add_tensor(p + "attn_norm.weight", norm_weight(D))
        w.add_tensor(p + "attn_q.weight", normal((H * HD, D), 1.0 / np.sqrt(D)))
        w.add_tensor(p + "attn_q.bias", normal(H * HD, 0.3))
        w.add_tensor(p + "attn_k.weight", normal((HKV * HD, D), 1.0 / np.sqrt(D)))
        w.add_tensor(p + "attn_k.bias", normal(HKV * HD, 0.3))
        w.add_tensor(p + "attn_v.weight", normal((HKV * HD, D), 1.0 / np.sqrt(D)))
        w.add_tensor(p + "attn_v.bias", normal(HKV * HD, 0.3))
        wo, bo = normal((D, H * HD), SCALES["attn_out"] / np.sqrt(H * HD)), normal(D, 0.1)
        wo[D - R:], bo[D - R:] = 0, 0
        w.add_tensor(p + "attn_output.weight", wo)
        w.add_tensor(p + "attn_output.bias", bo)
        # sink logits comparable to the scores, so the sink takes a real share of each head
        w.add_tensor(p + "attn_sinks.weight", rng.uniform(0.0, 2.5, H).astype(np.float32))
        w.add_tensor(p + "post_attention_norm.weight", norm_weight(D))
        wr = np.concatenate([normal((E, D - R), SCALES["router_ctx"] / np.sqrt(D - R)),
                             normal((E, R), SCALES["router_clean"] / np.sqrt(R))], axis=1)
        w.add_tensor(p + "ffn_gate_inp.weight", wr)
        w.add_tensor(p + "ffn_gate_inp.bias", normal(E, SCALES["router_bias"]))
        mxfp4(p + "ffn_gate_exps.weight", (E, F, D), SCALES["gate_up"] / np.sqrt(D))
        w.add_tensor(p + "ffn_gate_exps.bias", normal((E, F), SCALES["gate_up_bias"]))
        mxfp4(p + "ffn_up_exps.weight", (E, F, D), SCALES["gate_up"] / np.sqrt(D))
        w.add_tensor(p + "ffn_up_exps.bias", normal((E, F), SCALES["gate_up_bias"]))
        mxfp4(p + "ffn_down_exps.weight", (E, D, F), SCALES["down"] / np.sqrt(F), zero_rows=R)
        bd = normal((E, D), SCALES["down_bias"])
        bd[:, D - R:] = 0
        w.add_tensor(p + "ffn_down_exps.bias", bd)

    finish(w)
    return n_vocab


if __name__ == "__main__":
    write_all([SPEC], write_model, HERE)
