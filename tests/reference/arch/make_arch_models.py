#!/usr/bin/env python3
"""Tiny random-weight GGUF models of each decoder architecture we run, for
tests/engine/test_arch.cpp. Their reference logits come from the float64
forward of tests/reference/model/make_exact_reference.py (`arch`), which reads
MODELS below for each model's prompt text.

Run with a Python that has gguf (0.19.0) and numpy:
  ~/.cache/engram-desktop/refenv/bin/python tests/reference/arch/make_arch_models.py
  ~/.cache/engram-desktop/refenv/bin/python tests/reference/model/make_exact_reference.py arch

Writes beside this script:
  qwen2-tiny.gguf   NeoX RoPE, Q/K/V biases, GQA, tied output
  qwen3-tiny.gguf   NeoX RoPE, per-head Q/K RMSNorm, key_length 32 != n_embd / n_head (16), GQA, tied output
  llama3-tiny.gguf  adjacent-pair RoPE with llama3 `rope_freqs.weight` factors != 1, GQA, untied output

Everything is deterministic from SEED (a rerun rewrites the same bytes).
Weights are F32 so that the engine quantizes no activations: what separates
its logits from exact math is its F16 rounding of Q, K, V and the attention
weights and the order of float32 sums. Weight scales keep every activation O(1)
(projections ~ N(0, 1/fan_in)), so attention is neither uniform nor one-hot,
and the output matrix is wide enough that logits spread over several units: a
wrong RoPE, norm or bias moves them by far more than rounding does.
"""
import os

import gguf
import numpy as np

SEED = 20261129
HERE = os.path.dirname(os.path.abspath(__file__))


def bytes_to_unicode():
    """GPT-2's reversible byte -> printable character map (as in its encoder.py)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs)))


# A handful of merges so that BPE does some work; every result is a token.
MERGES = ["Ġ t", "h e", "Ġt he", "i n", "Ġ a", "a t", "Ġ c", "Ġc at", "o n", "Ġ s", "e r", "Ġ h", "Ġh at"]


def vocab(specials):
    """256 byte tokens, the merge results, then the special (control) tokens."""
    b2u = bytes_to_unicode()
    tokens = [b2u[b] for b in range(256)]
    for m in MERGES:
        tokens.append(m.replace(" ", ""))
    types = [gguf.TokenType.NORMAL] * len(tokens)
    ids = {}
    for s in specials:
        ids[s] = len(tokens)
        tokens.append(s)
        types.append(gguf.TokenType.CONTROL)
    return tokens, types, ids


MODELS = [
    # name, arch, pre-tokenizer, shape, special tokens, text of the prompt
    dict(name="qwen2-tiny", arch="qwen2", pre="qwen2", n_embd=64, n_head=4, n_head_kv=2, head_dim=16,
         n_ff=128, n_layer=2, rope_base=1000000.0, tied=True,
         specials=["<|endoftext|>", "<|im_start|>", "<|im_end|>"], bos="<|endoftext|>", eos="<|im_end|>",
         text="<|im_start|>user\nthe cat in the hat<|im_end|>\n"),
    dict(name="qwen3-tiny", arch="qwen3", pre="qwen2", n_embd=64, n_head=4, n_head_kv=2, head_dim=32,
         n_ff=80, n_layer=2, rope_base=1000000.0, tied=True,
         specials=["<|endoftext|>", "<|im_start|>", "<|im_end|>"], bos="<|endoftext|>", eos="<|im_end|>",
         text="<|im_start|>user\nthe hat on the cat<|im_end|>\n"),
    dict(name="llama3-tiny", arch="llama", pre="llama-bpe", n_embd=64, n_head=4, n_head_kv=2, head_dim=16,
         n_ff=96, n_layer=2, rope_base=500000.0, tied=False,
         specials=["<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>"], bos="<|begin_of_text|>",
         eos="<|eot_id|>", text="<|begin_of_text|>a cat sat on the hat in the sun"),
]


def write_model(spec, path):
    rng = np.random.default_rng([SEED, MODELS.index(spec)])
    tokens, types, sid = vocab(spec["specials"])
    n_vocab, D, H, HKV, HD, FF = len(tokens), spec["n_embd"], spec["n_head"], spec["n_head_kv"], spec["head_dim"], spec["n_ff"]
    arch = spec["arch"]

    w = gguf.GGUFWriter(path, arch)
    w.add_name(spec["name"])
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    w.add_context_length(256)
    w.add_embedding_length(D)
    w.add_block_count(spec["n_layer"])
    w.add_feed_forward_length(FF)
    w.add_head_count(H)
    w.add_head_count_kv(HKV)
    if HD != D // H:
        w.add_key_length(HD)
        w.add_value_length(HD)
    if arch == "llama":
        w.add_rope_dimension_count(HD)
        w.add_vocab_size(n_vocab)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_rope_freq_base(spec["rope_base"])

    add_tokenizer(w, spec, tokens, types, sid, add_bos=arch == "llama")

    def normal(shape, std):
        return (rng.standard_normal(shape) * std).astype(np.float32)

    def norm_weight(n):  # around 1, but not 1, so a missing or misplaced norm shows
        return (1.0 + rng.standard_normal(n) * 0.2).astype(np.float32)

    # numpy shape is GGUF's ne reversed: [n_out, n_in] here is ne = [n_in, n_out].
    # Tied: token_embd doubles as the output matrix, so its scale sets the
    # logit spread (std ~ sqrt(D) * 0.25 = 2). Untied: embeddings O(1), output as above.
    w.add_tensor("token_embd.weight", normal((n_vocab, D), 0.25 if spec["tied"] else 1.0))
    w.add_tensor("output_norm.weight", norm_weight(D))
    if not spec["tied"]:
        w.add_tensor("output.weight", normal((n_vocab, D), 0.25))
    if arch == "llama":
        # llama3 factors divide each pair's frequency; values across [1, 8]
        # (none exactly 1) so that ignoring or misindexing them changes angles.
        w.add_tensor("rope_freqs.weight", rng.uniform(1.2, 8.0, HD // 2).astype(np.float32))
    for il in range(spec["n_layer"]):
        p = f"blk.{il}."
        w.add_tensor(p + "attn_norm.weight", norm_weight(D))
        w.add_tensor(p + "attn_q.weight", normal((H * HD, D), 1.5 / np.sqrt(D)))
        w.add_tensor(p + "attn_k.weight", normal((HKV * HD, D), 1.5 / np.sqrt(D)))
        w.add_tensor(p + "attn_v.weight", normal((HKV * HD, D), 1.0 / np.sqrt(D)))
        if arch == "qwen2":
            w.add_tensor(p + "attn_q.bias", normal(H * HD, 0.5))
            w.add_tensor(p + "attn_k.bias", normal(HKV * HD, 0.5))
            w.add_tensor(p + "attn_v.bias", normal(HKV * HD, 0.5))
        if arch == "qwen3":
            w.add_tensor(p + "attn_q_norm.weight", norm_weight(HD))
            w.add_tensor(p + "attn_k_norm.weight", norm_weight(HD))
        w.add_tensor(p + "attn_output.weight", normal((D, H * HD), 1.0 / np.sqrt(H * HD)))
        w.add_tensor(p + "ffn_norm.weight", norm_weight(D))
        w.add_tensor(p + "ffn_gate.weight", normal((FF, D), 1.0 / np.sqrt(D)))
        w.add_tensor(p + "ffn_up.weight", normal((FF, D), 1.0 / np.sqrt(D)))
        w.add_tensor(p + "ffn_down.weight", normal((D, FF), 1.0 / np.sqrt(FF)))

    finish(w)
    return n_vocab


def add_tokenizer(w, spec, tokens, types, sid, add_bos):
    """The byte-level BPE vocabulary (vocab()) with the spec's pre-tokenizer, BOS and EOS."""
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre(spec["pre"])
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(MERGES)
    w.add_bos_token_id(sid[spec["bos"]])
    w.add_eos_token_id(sid[spec["eos"]])
    w.add_add_bos_token(add_bos)


def finish(w):
    """Writes what the writer holds and closes the file."""
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def write_all(models, write_model, here):
    """Each spec of `models` as <here>/<name>.gguf, with what was written."""
    for spec in models:
        path = os.path.join(here, spec["name"] + ".gguf")
        n_vocab = write_model(spec, path)
        print(f"{spec['name']}: {os.path.getsize(path)} bytes, {n_vocab} tokens in the vocabulary")


if __name__ == "__main__":
    write_all(MODELS, write_model, HERE)
