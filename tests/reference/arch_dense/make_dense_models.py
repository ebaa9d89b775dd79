#!/usr/bin/env python3
"""Tiny random-weight GGUF models of the popular dense architectures (`gemma3`,
`gemma2`, `phi3`, `smollm3`, `granite`) for tests/engine/test_dense_arch.cpp.
Their reference logits come from dense_exact.py (beside this script): a
float64 forward of the same weights, and llama.cpp (llama-cpp-python 0.3.16)
on the same tokens.

Run with the reference venv (gguf 0.19.0, numpy, llama-cpp-python 0.3.16):
  ~/.cache/engram-desktop/refenv/bin/python tests/reference/arch_dense/make_dense_models.py
  ~/.cache/engram-desktop/refenv/bin/python tests/reference/arch_dense/dense_exact.py

Writes beside this script (the README says what each one exercises):
  gemma3-tiny.gguf   7 blocks: 0-4 and 6 slide (window 5, RoPE base 10000, unscaled),
                     5 is global (base 1e6, linear scaling x8); per-head QK-norm,
                     key_length 32 != 64/4, post-attention and post-FFN norms,
                     GELU-gated FFN, embeddings x sqrt(64), tied output
  gemma2-tiny.gguf   4 blocks: even ones slide (window 6); attention scores
                     soft-capped at 3, logits at 8 (real files: 50 and 30; small
                     here so that the caps bend the values), post norms, GELU,
                     embeddings x 8, tied output
  phi3-tiny.gguf     fused attn_qkv and ffn_up (gate then up), partial rotary
                     (12 of 16 dims), NeoX RoPE with LongRoPE factors
                     (rope_factors_short/long) and rope.scaling.attn_factor,
                     GQA 4/2, a sliding_window key that llama.cpp ignores, untied
  smollm3-tiny.gguf  8 blocks: every 4th (3 and 7) without RoPE, adjacent-pair
                     RoPE elsewhere, GQA, tied output
  granite-tiny.gguf  embedding_scale 12, residual_scale 0.5, attention.scale 0.5
                     (instead of 1/sqrt(16)), logit_scale 8, untied output

Norm weights are stored as the multiplier itself: llama.cpp's converter writes
Gemma's (1 + w) already added (convert_hf_to_gguf.py, Gemma2Model and
Gemma3Model: `data_torch + 1` for every norm.weight), so a GGUF norm is used as is.

Vocabulary: the byte-level BPE of ../arch/make_arch_models.py plus each
family's chat control tokens, and the family's chat template where one is
committed under ../templates (gemma-2 for gemma2 and gemma3, Phi-3.5-mini for
phi3, granite-3.3 for granite; SmolLM3's is not available offline).

Everything is deterministic from SEED (a rerun rewrites the same bytes). F32
weights with the scales of make_arch_models.py, so activations are O(1) and a
wrong multiplier, norm or RoPE choice moves the logits by far more than
rounding (dense_exact.py measures each such ablation against llama.cpp).
"""
import math
import os
import sys

import gguf
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REF = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REF, "arch"))
from make_arch_models import MERGES, bytes_to_unicode, finish, write_all  # noqa: E402

SEED = 20261207
# Each model's weights come from the stream default_rng([SEED, model index,
# variant]); the variant is the first (from 0) whose float64 greedy path keeps
# every top-2 gap >= 0.05 and has >= 6 distinct tokens, found by
# `dense_exact.py search`: with random weights a greedy step can sit within
# rounding of a tie, and a test could then only skip it.


def template(name):
    with open(os.path.join(REF, "templates", name), encoding="utf-8") as f:
        return f.read()


MODELS = [
    dict(name="gemma3-tiny", variant=0, arch="gemma3", n_embd=64, n_head=4, n_head_kv=2, head_dim=32, n_ff=96, n_layer=7,
         rope_base=1000000.0, rope_linear=8.0, swa=5, tied=True, embd_std=0.25, add_bos=True,
         specials=["<pad>", "<eos>", "<bos>", "<start_of_turn>", "<end_of_turn>"], bos="<bos>", eos="<end_of_turn>",
         chat_template="google-gemma-2-2b-it.jinja",
         text="<bos><start_of_turn>user\nthe cat in the hat sat on the hat<end_of_turn>\n<start_of_turn>model\n"),
    dict(name="gemma2-tiny", variant=5, arch="gemma2", n_embd=64, n_head=4, n_head_kv=2, head_dim=16, n_ff=96, n_layer=4,
         rope_base=10000.0, swa=6, attn_softcap=3.0, final_softcap=8.0, tied=True, embd_std=0.25, add_bos=True,
         specials=["<pad>", "<eos>", "<bos>", "<start_of_turn>", "<end_of_turn>"], bos="<bos>", eos="<end_of_turn>",
         chat_template="google-gemma-2-2b-it.jinja",
         text="<bos><start_of_turn>user\nthe hat on the cat in the sun<end_of_turn>\n<start_of_turn>model\n"),
    dict(name="phi3-tiny", variant=5, arch="phi3", n_embd=64, n_head=4, n_head_kv=2, head_dim=16, n_rot=12, n_ff=96, n_layer=3,
         rope_base=10000.0, ctx=4096, ctx_orig=512, swa=8, tied=False, embd_std=1.0, add_bos=False,
         specials=["<unk>", "<s>", "</s>", "<|endoftext|>", "<|system|>", "<|user|>", "<|assistant|>", "<|end|>"],
         bos="<s>", eos="<|endoftext|>", chat_template="microsoft-Phi-3.5-mini-instruct.jinja",
         text="<|user|>\nthe cat sat on the hat<|end|>\n<|assistant|>\n"),
    dict(name="smollm3-tiny", variant=11, arch="smollm3", n_embd=64, n_head=4, n_head_kv=2, head_dim=16, n_ff=96, n_layer=8,
         rope_base=2000000.0, tied=True, embd_std=0.25, add_bos=False,
         specials=["<|begin_of_text|>", "<|end_of_text|>", "<|im_start|>", "<|im_end|>"],
         bos="<|begin_of_text|>", eos="<|im_end|>", chat_template=None,
         text="<|im_start|>user\nthe cat in the hat on the sun<|im_end|>\n<|im_start|>assistant\n"),
    dict(name="granite-tiny", variant=21, arch="granite", n_embd=64, n_head=4, n_head_kv=2, head_dim=16, n_ff=96, n_layer=3,
         rope_base=10000.0, embedding_scale=12.0, residual_scale=0.5, attention_scale=0.5, logit_scale=8.0,
         tied=False, out_std=2.0, embd_std=0.1, add_bos=False,
         specials=["<|end_of_text|>", "<|start_of_role|>", "<|end_of_role|>"],
         bos="<|end_of_text|>", eos="<|end_of_text|>", chat_template="ibm-granite-granite-3.3-2B-Instruct.jinja",
         text="<|start_of_role|>user<|end_of_role|>the cat sat in the hat<|end_of_text|>\n"
              "<|start_of_role|>assistant<|end_of_role|>"),
]


# Quantized copies: the same weights (same variant) with every matrix whose
# rows are whole Q8_0 blocks stored as Q8_0, as real files are quantized; the
# fused phi3 tensors are then split into row ranges of a quantized matrix.
QUANTIZED = [dict(base="phi3-tiny", qtype="Q8_0")]


def quantized_spec(q):
    spec = dict(next(m for m in MODELS if m["name"] == q["base"]))
    spec.update(name=f"{q['base']}-{q['qtype'].lower()}", qtype=q["qtype"])
    return spec


def vocab(specials):
    """256 byte tokens, the merge results, then the family's control tokens."""
    b2u = bytes_to_unicode()
    tokens = [b2u[b] for b in range(256)] + [m.replace(" ", "") for m in MERGES]
    types = [gguf.TokenType.NORMAL] * len(tokens)
    ids = {}
    for s in specials:
        ids[s] = len(tokens)
        tokens.append(s)
        types.append(gguf.TokenType.CONTROL)
    return tokens, types, ids


def write_model(spec, path, variant=None):
    index = next(i for i, m in enumerate(MODELS) if m["arch"] == spec["arch"])
    rng = np.random.default_rng([SEED, index, spec["variant"] if variant is None else variant])
    tokens, types, sid = vocab(spec["specials"])
    n_vocab, D, H, HKV, HD, FF = len(tokens), spec["n_embd"], spec["n_head"], spec["n_head_kv"], spec["head_dim"], spec["n_ff"]
    QD, KVD = H * HD, HKV * HD
    arch = spec["arch"]
    n_rot = spec.get("n_rot", HD)

    w = gguf.GGUFWriter(path, arch)
    w.add_name(spec["name"])
    qtype = getattr(gguf.GGMLQuantizationType, spec["qtype"]) if spec.get("qtype") else None
    w.add_file_type(gguf.LlamaFileType.MOSTLY_Q8_0 if qtype else gguf.LlamaFileType.ALL_F32)
    if qtype:
        add_f32 = w.add_tensor

        def add_quantized(name, a):  # matrices (rows of whole blocks) quantized, vectors F32
            if a.ndim == 2 and a.shape[1] % gguf.GGML_QUANT_SIZES[qtype][0] == 0:
                add_f32(name, gguf.quants.quantize(a, qtype), raw_dtype=qtype)
            else:
                add_f32(name, a)
        w.add_tensor = add_quantized
    w.add_context_length(spec.get("ctx", 256))
    w.add_embedding_length(D)
    w.add_block_count(spec["n_layer"])
    w.add_feed_forward_length(FF)
    w.add_head_count(H)
    w.add_head_count_kv(HKV)
    if arch in ("gemma2", "gemma3"):  # their converters always write the head size
        w.add_key_length(HD)
        w.add_value_length(HD)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_rope_freq_base(spec["rope_base"])
    if arch == "gemma3":
        w.add_sliding_window(spec["swa"])
        w.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
        w.add_rope_scaling_factor(spec["rope_linear"])
    if arch == "gemma2":
        w.add_sliding_window(spec["swa"])
        w.add_attn_logit_softcapping(spec["attn_softcap"])
        w.add_final_logit_softcapping(spec["final_softcap"])
    if arch == "phi3":
        w.add_rope_dimension_count(n_rot)
        w.add_rope_scaling_orig_ctx_len(spec["ctx_orig"])
        w.add_sliding_window(spec["swa"])
        scale = spec["ctx"] / spec["ctx_orig"]
        w.add_rope_scaling_attn_factors(math.sqrt(1 + math.log(scale) / math.log(spec["ctx_orig"])))
    if arch in ("smollm3", "granite"):
        w.add_rope_dimension_count(HD)
        w.add_vocab_size(n_vocab)
    if arch == "granite":
        w.add_embedding_scale(spec["embedding_scale"])
        w.add_residual_scale(spec["residual_scale"])
        w.add_attention_scale(spec["attention_scale"])
        w.add_logit_scale(spec["logit_scale"])

    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("llama-bpe")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(MERGES)
    w.add_bos_token_id(sid[spec["bos"]])
    w.add_eos_token_id(sid[spec["eos"]])
    w.add_add_bos_token(spec["add_bos"])
    if spec["chat_template"]:
        w.add_chat_template(template(spec["chat_template"]))

    def normal(shape, std):
        return (rng.standard_normal(shape) * std).astype(np.float32)

    def norm_weight(n, center=1.0):  # the stored multiplier (Gemma: 1 + w already added), around 1 but not 1
        return (center * (1.0 + rng.standard_normal(n) * 0.2)).astype(np.float32)

    # numpy shape is GGUF's ne reversed: [n_out, n_in] here is ne = [n_in, n_out].
    w.add_tensor("token_embd.weight", normal((n_vocab, D), spec["embd_std"]))
    w.add_tensor("output_norm.weight", norm_weight(D))
    if not spec["tied"]:
        w.add_tensor("output.weight", normal((n_vocab, D), spec.get("out_std", 0.25)))
    if arch == "phi3":
        # LongRoPE: each pair's frequency divided by a factor; llama.cpp takes
        # the short ones while the context (n_ctx) is within ctx_orig.
        w.add_tensor("rope_factors_short.weight", rng.uniform(1.0, 3.0, n_rot // 2).astype(np.float32))
        w.add_tensor("rope_factors_long.weight", rng.uniform(2.0, 24.0, n_rot // 2).astype(np.float32))
    for il in range(spec["n_layer"]):
        p = f"blk.{il}."
        w.add_tensor(p + "attn_norm.weight", norm_weight(D))
        wq = normal((QD, D), 1.5 / np.sqrt(D))
        wk = normal((KVD, D), 1.5 / np.sqrt(D))
        wv = normal((KVD, D), 1.0 / np.sqrt(D))
        if arch == "phi3":
            w.add_tensor(p + "attn_qkv.weight", np.concatenate([wq, wk, wv], axis=0))  # rows: Q, K, V
        else:
            w.add_tensor(p + "attn_q.weight", wq)
            w.add_tensor(p + "attn_k.weight", wk)
            w.add_tensor(p + "attn_v.weight", wv)
        if arch == "gemma3":
            w.add_tensor(p + "attn_q_norm.weight", norm_weight(HD))
            w.add_tensor(p + "attn_k_norm.weight", norm_weight(HD))
        w.add_tensor(p + "attn_output.weight", normal((D, QD), 1.0 / np.sqrt(QD)))
        if arch in ("gemma2", "gemma3"):
            # x starts as sqrt(64) * token row (rms 2): post norms around 3
            # let the blocks outweigh it, else the tied head repeats the last token.
            w.add_tensor(p + "post_attention_norm.weight", norm_weight(D, 3.0))
        w.add_tensor(p + "ffn_norm.weight", norm_weight(D))
        gate = normal((FF, D), 1.0 / np.sqrt(D))
        up = normal((FF, D), 1.0 / np.sqrt(D))
        if arch == "phi3":
            w.add_tensor(p + "ffn_up.weight", np.concatenate([gate, up], axis=0))  # rows: gate, then up
        else:
            w.add_tensor(p + "ffn_gate.weight", gate)
            w.add_tensor(p + "ffn_up.weight", up)
        w.add_tensor(p + "ffn_down.weight", normal((D, FF), 1.0 / np.sqrt(FF)))
        if arch in ("gemma2", "gemma3"):
            w.add_tensor(p + "post_ffw_norm.weight", norm_weight(D, 3.0))

    finish(w)
    return n_vocab


if __name__ == "__main__":
    write_all(MODELS + [quantized_spec(q) for q in QUANTIZED], write_model, HERE)
