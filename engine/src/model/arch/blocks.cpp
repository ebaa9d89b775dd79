#include "model/arch/blocks.h"

#include <cmath>

#include "model/model.h"
#include "model/moe_shape.h"

namespace eg::blocks {

Status load_attention(TensorLoader& t, const HParams& hp, LayerWeights& L, const AttentionSpec& a) {
    const int64_t D = hp.n_embd, QD = hp.q_dim(), KVD = hp.kv_dim();
    if (auto s = t.vec("attn_norm.weight", D, &L.attn_norm); !s) return s;
    if (auto s = t.matrix("attn_q.weight", D, QD, &L.wq); !s) return s;
    if (auto s = t.matrix("attn_k.weight", D, KVD, &L.wk); !s) return s;
    if (auto s = t.matrix("attn_v.weight", D, KVD, &L.wv); !s) return s;
    if (auto s = t.matrix("attn_output.weight", QD, D, &L.wo); !s) return s;
    if (a.qkv_bias) {
        if (auto s = t.vec("attn_q.bias", QD, &L.bq); !s) return s;
        if (auto s = t.vec("attn_k.bias", KVD, &L.bk); !s) return s;
        if (auto s = t.vec("attn_v.bias", KVD, &L.bv); !s) return s;
    }
    if (a.qk_norm != QkNorm::None) {
        const bool whole = a.qk_norm == QkNorm::Whole;
        if (auto s = t.vec("attn_q_norm.weight", whole ? QD : hp.head_dim, &L.q_norm); !s) return s;
        if (auto s = t.vec("attn_k_norm.weight", whole ? KVD : hp.head_dim, &L.k_norm); !s) return s;
    }
    if (a.output_bias)
        if (auto s = t.vec("attn_output.bias", D, &L.bo); !s) return s;
    if (a.sinks)
        if (auto s = t.vec("attn_sinks.weight", hp.n_head, &L.attn_sinks); !s) return s;
    return {};
}

Status load_dense_ffn(TensorLoader& t, const HParams& hp, LayerWeights& L) {
    const int64_t D = hp.n_embd, FF = hp.n_ff;
    if (auto s = t.vec("ffn_norm.weight", D, &L.ffn_norm); !s) return s;
    if (auto s = t.matrix("ffn_gate.weight", D, FF, &L.gate); !s) return s;
    if (auto s = t.matrix("ffn_up.weight", D, FF, &L.up); !s) return s;
    return t.matrix("ffn_down.weight", FF, D, &L.down);
}

Status load_moe_ffn(TensorLoader& t, const HParams& hp, LayerWeights& L, const MoeSpec& m) {
    const int64_t D = hp.n_embd, F = hp.n_ff_exp, E = hp.n_expert;
    if (auto s = t.vec(std::string(m.norm) + ".weight", D, &L.ffn_norm); !s) return s;
    if (auto s = t.matrix("ffn_gate_inp.weight", D, E, &L.router); !s) return s;
    if (auto s = t.experts("ffn_gate_exps.weight", D, F, E, &L.gate_exps); !s) return s;
    if (auto s = t.experts("ffn_up_exps.weight", D, F, E, &L.up_exps); !s) return s;
    if (auto s = t.experts("ffn_down_exps.weight", F, D, E, &L.down_exps); !s) return s;
    if (!m.biases) return {};
    if (auto s = t.vec("ffn_gate_inp.bias", E, &L.router_bias); !s) return s;
    if (auto s = t.expert_bias("ffn_gate_exps.bias", F, E, &L.gate_exps); !s) return s;
    if (auto s = t.expert_bias("ffn_up_exps.bias", F, E, &L.up_exps); !s) return s;
    return t.expert_bias("ffn_down_exps.bias", D, E, &L.down_exps);
}

WeightView rows_of(const WeightView& w, int64_t first, int64_t n) {
    WeightView v = w;
    v.n = n;
    v.data = w.data + first * w.row_bytes;
    v.packed = nullptr;
    return v;
}

void attention(BlockBuilder& g, const AttentionSpec& a, int64_t window) {
    AttentionOptions o;
    o.window = window;
    attention(g, a, o);
}

void attention(BlockBuilder& g, const AttentionSpec& a, const AttentionOptions& o) {
    const HParams& hp = g.hp;
    const int64_t D = hp.n_embd, QD = hp.q_dim(), KVD = hp.kv_dim(), HD = hp.head_dim;
    g.rms_norm("attn_norm", Slot::X, Slot::Norm, D, &LayerWeights::attn_norm);     // [n_tok, n_embd]
    const VectorRef bq = a.qkv_bias ? &LayerWeights::bq : nullptr;
    const VectorRef bk = a.qkv_bias ? &LayerWeights::bk : nullptr;
    const VectorRef bv = a.qkv_bias ? &LayerWeights::bv : nullptr;
    g.matmul("q_proj", &LayerWeights::wq, Slot::Norm, Slot::Q, bq);                 // [n_tok, n_head*head_dim]
    g.matmul("k_proj", &LayerWeights::wk, Slot::Norm, Slot::K, bk);                 // [n_tok, n_head_kv*head_dim]
    g.matmul("v", &LayerWeights::wv, Slot::Norm, Slot::V, bv);                      // [n_tok, n_head_kv*head_dim]
    if (a.qk_norm != QkNorm::None) {
        const bool whole = a.qk_norm == QkNorm::Whole;
        g.rms_norm("q_norm", Slot::Q, Slot::Q, QD, &LayerWeights::q_norm, whole ? QD : HD);
        g.rms_norm("k_norm", Slot::K, Slot::K, KVD, &LayerWeights::k_norm, whole ? KVD : HD);
    }
    if (o.rope) {
        g.rope("q", Slot::Q, hp.n_head, o.rope_base, o.rope_scale);
        g.rope("k", Slot::K, hp.n_head_kv, o.rope_base, o.rope_scale);
    }
    // The kernels scale the scores by 1/sqrt(head_dim): another scale is
    // theirs times a multiplier on Q.
    if (o.kq_scale > 0 && o.kq_scale != 1.0f / std::sqrt((float)HD))
        g.scale("q_scaled", Slot::Q, o.kq_scale * std::sqrt((float)HD));
    g.store_kv(Slot::K, Slot::V);
    g.attention("kqv_out", Slot::Q, Slot::Attn, o.window,                           // [n_tok, n_head*head_dim]
                a.sinks ? &LayerWeights::attn_sinks : nullptr, o.softcap);
    g.matmul("attn_out", &LayerWeights::wo, Slot::Attn, Slot::Tmp,                  // [n_tok, n_embd]
             a.output_bias ? &LayerWeights::bo : nullptr);
    if (o.post_norm) g.rms_norm("attn_post_norm", Slot::Tmp, Slot::Tmp, D, &LayerWeights::attn_post_norm);
    if (o.residual_scale != 1.0f) g.scale("attn_out_scaled", Slot::Tmp, o.residual_scale);
    g.add("attn_residual", Slot::Tmp, Slot::X);
}

void dense_ffn(BlockBuilder& g) { dense_ffn(g, FfnOptions{}); }

void dense_ffn(BlockBuilder& g, const FfnOptions& o) {
    const int64_t D = g.hp.n_embd;
    g.rms_norm("ffn_norm", Slot::X, Slot::Norm, D, &LayerWeights::ffn_norm);        // [n_tok, n_embd]
    g.matmul("ffn_gate", &LayerWeights::gate, Slot::Norm, Slot::Gate);              // [n_tok, n_ff]
    g.matmul("ffn_up", &LayerWeights::up, Slot::Norm, Slot::Up);                    // [n_tok, n_ff]
    if (o.gelu)
        g.geglu("ffn_act", Slot::Gate, Slot::Up, Slot::Act);                        // [n_tok, n_ff]
    else
        g.swiglu("ffn_act", Slot::Gate, Slot::Up, Slot::Act);                       // [n_tok, n_ff]
    g.matmul("ffn_out", &LayerWeights::down, Slot::Act, Slot::Tmp);                 // [n_tok, n_embd]
    if (o.post_norm) g.rms_norm("ffn_post_norm", Slot::Tmp, Slot::Tmp, D, &LayerWeights::ffn_post_norm);
    if (o.residual_scale != 1.0f) g.scale("ffn_out_scaled", Slot::Tmp, o.residual_scale);
    g.add("l_out", Slot::Tmp, Slot::X);
}

void moe_ffn(BlockBuilder& g, const MoeSpec& m) {
    const HParams& hp = g.hp;
    g.rms_norm("ffn_norm", Slot::X, Slot::Norm, hp.n_embd, &LayerWeights::ffn_norm);  // [n_tok, n_embd]
    g.matmul("ffn_moe_logits", &LayerWeights::router, Slot::Norm, Slot::Router,        // [n_tok, n_expert]
             m.biases ? &LayerWeights::router_bias : nullptr);
    g.moe_route("ffn_moe_route", Slot::Router,
                MoeRouting{hp.n_expert, hp.n_expert_used, m.renormalize, m.softmax_chosen});
    g.moe_experts("ffn_moe_out", Slot::Norm, Slot::Tmp, m.act);                        // [n_tok, n_embd]
    g.add("l_out", Slot::Tmp, Slot::X);
}

Status read_sliding_window(const GgufFile& f, HParams& hp, int64_t absent) {
    const std::string key = hp.arch + ".attention.sliding_window";
    auto w = f.get_int(key);
    if (!w) return w.error();
    if (!w.value()) {
        if (absent <= 0) return f.error(key, "missing (" + hp.arch + "'s sliding blocks attend through a window)");
        hp.n_swa = absent;
        return {};
    }
    if (*w.value() < 1 || *w.value() > (1 << 24)) return f.error(key, "must be in [1, 16777216]");
    hp.n_swa = *w.value();
    return {};
}

Status load_post_norms(TensorLoader& t, const HParams& hp, LayerWeights& L) {
    if (auto s = t.vec("post_attention_norm.weight", hp.n_embd, &L.attn_post_norm); !s) return s;
    return t.vec("post_ffw_norm.weight", hp.n_embd, &L.ffn_post_norm);
}

Status read_moe_hparams(const GgufFile& f, HParams& hp) {
    auto shape = read_moe_shape(f, hp.arch, hp.n_layer, hp.n_embd);
    if (!shape) return shape.error();
    if (!shape.value()) return f.error(hp.arch + ".expert_count", "missing (a " + hp.arch + " model has experts)");
    const MoeShape& s = *shape.value();
    for (int64_t il = 0; il < hp.n_layer; ++il)
        if (il >= (int64_t)s.layers.size() || s.layers[(size_t)il].layer != il)
            return f.error("tensor blk." + std::to_string(il) + ".ffn_gate_exps.weight",
                           "missing: every block of a " + hp.arch + " model has experts");
    hp.n_expert = s.n_expert;
    hp.n_expert_used = s.n_expert_used;
    hp.n_ff_exp = s.n_ff_exp;
    return {};
}

Status standard_hparams(const Standard& b, const GgufFile& f, HParams& hp) {
    hp.rope_type = b.rope;
    hp.has_qkv_bias = b.attention.qkv_bias;
    hp.has_qk_norm = b.attention.qk_norm != QkNorm::None;
    return b.moe ? read_moe_hparams(f, hp) : Status{};
}

Status standard_load(const Standard& b, TensorLoader& t, const HParams& hp, LayerWeights& L) {
    if (auto s = load_attention(t, hp, L, b.attention); !s) return s;
    return b.moe ? load_moe_ffn(t, hp, L, b.experts) : load_dense_ffn(t, hp, L);
}

void standard_build(const Standard& b, BlockBuilder& g, int64_t window) {
    attention(g, b.attention, window);
    if (b.moe)
        moe_ffn(g, b.experts);
    else
        dense_ffn(g);
}

}  // namespace eg::blocks
