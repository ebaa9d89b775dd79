// Hyper-parameters of a decoder-only transformer, read from `ARCH.*` keys.
#pragma once

#include <cstdint>
#include <string>

#include "cpu/rope.h"  // RopeType

namespace eg {

struct HParams {
    std::string arch;           // general.architecture
    int64_t n_vocab = 0;
    int64_t n_ctx_train = 0;    // ARCH.context_length
    int64_t n_embd = 0;         // ARCH.embedding_length
    int64_t n_layer = 0;        // ARCH.block_count
    int64_t n_ff = 0;           // ARCH.feed_forward_length
    int64_t n_head = 0;         // ARCH.attention.head_count
    int64_t n_head_kv = 0;      // ARCH.attention.head_count_kv
    int64_t head_dim = 0;       // ARCH.attention.key_length or n_embd / n_head
    int64_t n_rot = 0;          // ARCH.rope.dimension_count
    float rms_eps = 1e-5f;      // ARCH.attention.layer_norm_rms_epsilon
    float rope_freq_base = 10000.0f;
    float rope_freq_scale = 1.0f;  // linear and YaRN scaling: 1 / ARCH.rope.scaling.factor
    // YaRN (ARCH.rope.scaling.type "yarn"): cpu/rope.h's RopeTable.
    float yarn_ext_factor = 0.0f;  // 0: no YaRN
    float yarn_attn_factor = 1.0f;
    float yarn_beta_fast = 32.0f, yarn_beta_slow = 1.0f;
    int64_t yarn_n_ctx_orig = 0;   // ARCH.rope.scaling.original_context_length
    RopeType rope_type = RopeType::Normal;
    bool has_qkv_bias = false;  // qwen2
    bool has_qk_norm = false;   // qwen3, qwen3moe (per head), olmoe (whole projection)
    // Mixture of experts (model/moe_shape.h): 0 in a dense model.
    int64_t n_expert = 0;       // ARCH.expert_count
    int64_t n_expert_used = 0;  // ARCH.expert_used_count
    int64_t n_ff_exp = 0;       // one expert's width
    int64_t n_swa = 0;          // ARCH.attention.sliding_window (gpt-oss, gemma2/3), 0: none
    bool tied_output = false;   // output.weight absent: reuse token_embd
    // What some architectures add around the blocks (model/arch/*.cpp set them):
    float rope_attn_factor = 1.0f;  // ARCH.rope.scaling.attn_factor: cos/sin multiplied by it (phi3 LongRoPE)
    float embd_scale = 1.0f;        // token rows multiplied by it (gemma: sqrt(n_embd); granite: embedding_scale)
    float logit_scale = 1.0f;       // logits divided by it (granite: ARCH.logit_scale)
    float final_softcap = 0.0f;     // logits become c * tanh(logits / c) (gemma2: ARCH.final_logit_softcapping); 0: none
    float attn_softcap = 0.0f;      // attention scores soft-capped the same way (gemma2: ARCH.attn_logit_softcapping)
    float attn_scale = 0.0f;        // the scores' scale (granite: ARCH.attention.scale); 0: 1/sqrt(head_dim)
    float residual_scale = 1.0f;    // block outputs multiplied by it before the residual adds (granite)
    bool no_rope = false;           // no RoPE in any block (granite: ARCH.rope.scaling.finetuned false)
    // The context the RoPE factors were trained for (phi3:
    // ARCH.rope.scaling.original_context_length): a longer session uses the long factors.
    int64_t n_ctx_orig = 0;

    int64_t q_dim() const { return n_head * head_dim; }
    // RoPE's parameters as the kernels take them (freq_factors: rope_freqs.weight or null).
    RopeTable rope_table(const float* freq_factors) const;
    int64_t kv_dim() const { return n_head_kv * head_dim; }
};

}  // namespace eg
