// The parts most decoder blocks share, as graph fragments and tensor lists:
// the architectures (model/arch/*.cpp) compose their blocks from these and
// from single operations of their own.
#pragma once

#include "model/arch.h"

namespace eg::blocks {

// How a block normalizes Q and K before RoPE.
enum class QkNorm {
    None,
    PerHead,  // attn_{q,k}_norm [head_dim], each head on its own (qwen3)
    Whole,    // attn_{q,k}_norm [q_dim] / [kv_dim], the whole projection (olmoe)
};

struct AttentionSpec {
    bool qkv_bias = false;     // attn_{q,k,v}.bias (qwen2, gpt-oss)
    QkNorm qk_norm = QkNorm::None;
    bool output_bias = false;  // attn_output.bias (gpt-oss)
    bool sinks = false;        // attn_sinks.weight [n_head] (gpt-oss)
};

struct MoeSpec {
    const char* norm = "ffn_norm";  // the pre-FFN norm's tensor (gpt-oss: post_attention_norm)
    bool renormalize = false;       // MoeRouting
    bool softmax_chosen = false;    // MoeRouting
    bool biases = false;            // ffn_gate_inp.bias and ffn_{gate,up,down}_exps.bias (gpt-oss)
    ExpertActivation act = {};
};

// What one block's attention does beyond AttentionSpec, where its
// architecture says so block by block or through a multiplier.
struct AttentionOptions {
    int64_t window = 0;         // sliding window of that many positions (0: the whole context)
    bool rope = true;           // false: no RoPE in this block (smollm3's NoPE blocks)
    float rope_base = 0;        // this block's RoPE base and linear scale (0: the model's)
    float rope_scale = 0;
    float softcap = 0;          // scores soft-capped at this value (gemma2), 0: none
    float kq_scale = 0;         // the scores' scale where it is not 1/sqrt(head_dim) (granite, gemma 27B), 0: that
    bool post_norm = false;     // attn_post_norm on the output before the residual add (gemma2/3)
    float residual_scale = 1;   // the output multiplied by it before the residual add (granite)
};

// The dense feed-forward's choices.
struct FfnOptions {
    bool gelu = false;          // gelu(gate) * up (gemma) instead of silu(gate) * up
    bool post_norm = false;     // ffn_post_norm on the output before the residual add (gemma2/3)
    float residual_scale = 1;   // the output multiplied by it before the residual add (granite)
};

// attn_norm, attn_{q,k,v,output} and what `a` adds.
Status load_attention(TensorLoader& t, const HParams& hp, LayerWeights& L, const AttentionSpec& a);
// ffn_norm, ffn_{gate,up,down}: the dense SwiGLU feed-forward.
Status load_dense_ffn(TensorLoader& t, const HParams& hp, LayerWeights& L);
// Rows [first, first + n) of w, as a matrix of its own (the parts of a fused
// tensor: phi3's attn_qkv and ffn_up).
WeightView rows_of(const WeightView& w, int64_t first, int64_t n);
// The pre-FFN norm, the router ffn_gate_inp and ffn_{gate,up,down}_exps.
Status load_moe_ffn(TensorLoader& t, const HParams& hp, LayerWeights& L, const MoeSpec& m);

// x += W_o attention(rope(qk_norm(W_q h + b_q)), rope(qk_norm(W_k h + b_k)), W_v h + b_v) (+ b_o),
// h = rms_norm(x) * attn_norm; a sliding window of `window` positions (0: none).
void attention(BlockBuilder& g, const AttentionSpec& a, int64_t window = 0);
// The same with the options o (post-norm, multipliers, window, RoPE choices).
void attention(BlockBuilder& g, const AttentionSpec& a, const AttentionOptions& o);
// x += W_down (silu(W_gate h) * W_up h),  h = rms_norm(x) * ffn_norm.
void dense_ffn(BlockBuilder& g);
// The same with the options o (GELU, post-norm, residual multiplier).
void dense_ffn(BlockBuilder& g, const FfnOptions& o);
// x += sum over the token's top-k experts e of p_e * down_e(act(gate_e h, up_e h)),
// p from the router's logits W_router h (+ b) as m says, h = rms_norm(x) * norm.
void moe_ffn(BlockBuilder& g, const MoeSpec& m);

// ARCH.attention.sliding_window into hp.n_swa, in [1, 2^24]; when the key
// is absent, `absent` (0: the file must have it, and the error says the
// architecture's sliding blocks need it).
Status read_sliding_window(const GgufFile& f, HParams& hp, int64_t absent = 0);
// post_attention_norm and post_ffw_norm: the RMSNorms on the attention's and
// the FFN's output before each residual add (Gemma's blocks).
Status load_post_norms(TensorLoader& t, const HParams& hp, LayerWeights& L);

// Reads the expert keys and tensors (model/moe_shape.h) into hp: a MoE
// architecture's hparams() calls it.
Status read_moe_hparams(const GgufFile& f, HParams& hp);

// The block most architectures have: attention, then a dense SwiGLU or a
// mixture of experts, with the choices below. An architecture file states
// its Standard and takes its ArchSpec from standard_arch<>().
struct Standard {
    RopeType rope = RopeType::NeoX;
    AttentionSpec attention = {};
    bool moe = false;     // the FFN is `experts`, else the dense SwiGLU
    MoeSpec experts = {};
};

// The rope type, what hp says of the attention, and the expert keys.
Status standard_hparams(const Standard& b, const GgufFile& f, HParams& hp);
Status standard_load(const Standard& b, TensorLoader& t, const HParams& hp, LayerWeights& L);
// x += attention(x) (a sliding window of `window` positions, 0: none); x += ffn(x)
void standard_build(const Standard& b, BlockBuilder& g, int64_t window = 0);

template <const Standard& B>
const ArchSpec& standard_arch(std::string_view name, std::string_view families) {
    static const ArchSpec spec{
        name, families, [](const GgufFile& f, HParams& hp) { return standard_hparams(B, f, hp); },
        [](TensorLoader& t, const HParams& hp, int64_t, LayerWeights& L) { return standard_load(B, t, hp, L); },
        [](BlockBuilder& g) { standard_build(B, g); }};
    return spec;
}

}  // namespace eg::blocks
