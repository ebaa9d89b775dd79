#include "model/decoder.h"

#include <algorithm>
#include <cstring>

#include "core/thread_pool.h"
#include "cpu/ops.h"
#include "quant/kernels.h"

namespace eg {

void ForwardScratch::allocate(const HParams& hp, int64_t nb, int64_t n_ctx, int n_threads) {
    n_batch = nb;
    xn.assign(nb * std::max(hp.n_embd, hp.n_ff), 0);
    q.assign(nb * hp.q_dim(), 0);
    k.assign(nb * hp.kv_dim(), 0);
    v.assign(nb * hp.kv_dim(), 0);
    attn.assign(nb * hp.q_dim(), 0);
    tmp.assign(nb * hp.n_embd, 0);
    gate.assign(nb * hp.n_ff, 0);
    up.assign(nb * hp.n_ff, 0);
    scores.assign((size_t)n_threads * attention_scores_stride(n_ctx), 0);
    logits.assign(hp.n_vocab, 0);
    // Quantized activations: the widest input row is n_ff or q_dim floats;
    // any vec_dot type takes at most 4 bytes per element (F32).
    mm.reserve((size_t)nb * std::max(hp.n_ff, std::max(hp.q_dim(), hp.n_embd)) * 4);
}

uint64_t ForwardScratch::bytes() const {
    uint64_t n = xn.size() + q.size() + k.size() + v.size() + attn.size() + tmp.size() + gate.size() +
                 up.size() + scores.size() + logits.size();
    return n * sizeof(float) + mm.bytes();
}

Status decoder_embed(const Model& model, const int32_t* tokens, int64_t n_tok, float* x, ExtensionState* ext) {
    const ModelWeights& w = model.weights();
    const int64_t D = model.hparams().n_embd;
    ModelExtension* mx = ext ? model.extension() : nullptr;
    // One row of token_embd per token (any type), unless the extension serves
    // the table from its tiered store.
    if (mx && mx->serves_embeddings()) return mx->embed(*ext, tokens, n_tok, x);
    const TypeKernels* ek = kernels_for(w.tok_embd.type);
    for (int64_t t = 0; t < n_tok; ++t)
        ek->dequantize(w.tok_embd.data + (int64_t)tokens[t] * w.tok_embd.row_bytes, x + t * D, D);
    return {};
}

Status decoder_layers(const Model& model, const ModelWeights& w, KvCache& kv, int64_t kv_first, ForwardScratch& s, float* x, int64_t n_tok,
                      int64_t pos0, int64_t l0, int64_t l1, ThreadPool& pool, const TensorDumpFn* dump,
                      ExtensionState* ext) {
    const HParams& hp = model.hparams();
    const int64_t D = hp.n_embd, QD = hp.q_dim(), KVD = hp.kv_dim(), HD = hp.head_dim, FF = hp.n_ff;
    auto named = [&](const char* name, int64_t il, const float* data, int64_t n) {
        if (dump && *dump) (*dump)(name, il, data, n_tok, n);
    };
    ModelExtension* mx = ext ? model.extension() : nullptr;
    RopeTable rt{hp.n_rot, hp.rope_freq_base, hp.rope_freq_scale, w.rope_freqs};

    for (int64_t il = l0; il < l1; ++il) {
        const LayerWeights& L = w.layers[il];
        const int64_t kl = il - kv_first;
        if (mx && mx->has_layer(il)) {
            if (auto st = mx->apply(*ext, il, x, n_tok, pos0, pool, dump); !st) return st;
            named("engram_l_out", il, x, D);
        }
        for (int64_t t = 0; t < n_tok; ++t) rms_norm(x + t * D, L.attn_norm, s.xn.data() + t * D, D, hp.rms_eps);
        named("attn_norm", il, s.xn.data(), D);

        {
            const WeightView* w[] = {&L.wq, &L.wk, &L.wv};
            float* y[] = {s.q.data(), s.k.data(), s.v.data()};
            matmul_n(w, y, 3, s.xn.data(), n_tok, pool, s.mm);
        }
        named("q_proj", il, s.q.data(), QD);
        pool.parallel_for(n_tok, [&](int64_t b, int64_t e) {
            for (int64_t t = b; t < e; ++t) {
                float* q = s.q.data() + t * QD;
                float* k = s.k.data() + t * KVD;
                float* v = s.v.data() + t * KVD;
                if (L.bq) {
                    for (int64_t i = 0; i < QD; ++i) q[i] += L.bq[i];
                    for (int64_t i = 0; i < KVD; ++i) k[i] += L.bk[i];
                    for (int64_t i = 0; i < KVD; ++i) v[i] += L.bv[i];
                }
                for (int64_t h = 0; h < hp.n_head; ++h) {
                    if (L.q_norm) rms_norm(q + h * HD, L.q_norm, q + h * HD, HD, hp.rms_eps);
                    rope_head(q + h * HD, HD, pos0 + t, rt, hp.rope_type);
                }
                for (int64_t h = 0; h < hp.n_head_kv; ++h) {
                    if (L.k_norm) rms_norm(k + h * HD, L.k_norm, k + h * HD, HD, hp.rms_eps);
                    rope_head(k + h * HD, HD, pos0 + t, rt, hp.rope_type);
                }
                store_f16(k, kv.k(kl) + (pos0 + t) * KVD, KVD);
                store_f16(v, kv.v(kl) + (pos0 + t) * KVD, KVD);
            }
        });
        named("q", il, s.q.data(), QD);
        named("k", il, s.k.data(), KVD);
        named("v", il, s.v.data(), KVD);

        AttentionArgs aa{s.q.data(), kv.k(kl), kv.v(kl), s.attn.data(), s.scores.data(), n_tok, pos0,
                         hp.n_head, hp.n_head_kv, HD, kv.n_ctx(), attention_scores_stride(kv.n_ctx())};
        attention(aa, pool);
        named("kqv_out", il, s.attn.data(), QD);

        matmul(L.wo, s.attn.data(), n_tok, s.tmp.data(), pool, s.mm);
        named("attn_out", il, s.tmp.data(), D);
        for (int64_t i = 0; i < n_tok * D; ++i) x[i] += s.tmp[i];

        for (int64_t t = 0; t < n_tok; ++t) rms_norm(x + t * D, L.ffn_norm, s.xn.data() + t * D, D, hp.rms_eps);
        named("ffn_norm", il, s.xn.data(), D);
        {
            const WeightView* w[] = {&L.gate, &L.up};
            float* y[] = {s.gate.data(), s.up.data()};
            matmul_n(w, y, 2, s.xn.data(), n_tok, pool, s.mm);
        }
        named("ffn_gate", il, s.gate.data(), FF);
        named("ffn_up", il, s.up.data(), FF);
        pool.parallel_for(n_tok, [&](int64_t b, int64_t e) {
            for (int64_t t = b; t < e; ++t) silu_mul(s.gate.data() + t * FF, s.up.data() + t * FF, s.xn.data() + t * FF, FF);
        });
        named("ffn_act", il, s.xn.data(), FF);
        matmul(L.down, s.xn.data(), n_tok, s.tmp.data(), pool, s.mm);
        named("ffn_out", il, s.tmp.data(), D);
        for (int64_t i = 0; i < n_tok * D; ++i) x[i] += s.tmp[i];
        named("l_out", il, x, D);
    }
    return {};
}

void decoder_output(const Model& model, const ModelWeights& w, ForwardScratch& s, const float* x_last,
                    ThreadPool& pool, const TensorDumpFn* dump) {
    const HParams& hp = model.hparams();
    rms_norm(x_last, w.output_norm, s.xn.data(), hp.n_embd, hp.rms_eps);
    if (dump && *dump) (*dump)("result_norm", -1, s.xn.data(), 1, hp.n_embd);
    matmul(w.output, s.xn.data(), 1, s.logits.data(), pool, s.mm);
}

}  // namespace eg
