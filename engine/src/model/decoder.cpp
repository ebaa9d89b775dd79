#include "model/decoder.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/thread_pool.h"
#include "cpu/ops.h"
#include "model/expert_tier.h"
#include "quant/kernels.h"

namespace eg {

void ForwardScratch::allocate(const Model& m, int64_t first, int64_t last, int64_t nb, int64_t n_ctx,
                              int n_threads) {
    const HParams& hp = m.hparams();
    n_batch = nb;
    std::array<int64_t, kSlotCount> width{};
    width[(int)Slot::Norm] = hp.n_embd;  // the output head normalizes into it
    int64_t widest_in = hp.n_embd;       // the widest matmul input
    for (int64_t il = first; il < last; ++il) {
        const BlockGraph& g = m.block(il);
        for (int i = 0; i < kSlotCount; ++i) width[i] = std::max(width[i], g.width[i]);
        for (const Node& n : g.nodes)
            if (n.op == Op::Matmul) widest_in = std::max(widest_in, (m.weights().layers[il].*n.w).k);
    }
    for (int i = 1; i < kSlotCount; ++i) slot[i].assign((size_t)(nb * width[i]), 0);
    scores.assign((size_t)n_threads * attention_scores_stride(n_ctx), 0);
    logits.assign(hp.n_vocab, 0);
    if (hp.n_expert > 0) {
        moe.allocate(nb, hp.n_embd, hp.n_ff_exp, hp.n_expert_used);
        widest_in = std::max(widest_in, hp.n_ff_exp);
    }
    // Quantized activations: any vec_dot type takes at most 4 bytes per value (F32).
    mm.reserve((size_t)nb * widest_in * 4);
}

uint64_t ForwardScratch::bytes() const {
    uint64_t n = scores.size() + logits.size();
    for (const auto& v : slot) n += v.size();
    return n * sizeof(float) + moe.bytes() + mm.bytes();
}

void MoeScratch::allocate(int64_t nb, int64_t D, int64_t F, int64_t K) {
    n_used = K;
    ids.assign((size_t)(nb * K), 0);
    weights.assign((size_t)(nb * K), 0);
    in.assign((size_t)(nb * D), 0);
    gate.assign((size_t)(nb * F), 0);
    up.assign((size_t)(nb * F), 0);
    act.assign((size_t)(nb * F), 0);
    out.assign((size_t)(nb * D), 0);
    y.assign((size_t)(nb * K * D), 0);
}

uint64_t MoeScratch::bytes() const {
    return (ids.size() + weights.size() + in.size() + gate.size() + up.size() + act.size() + out.size() + y.size()) *
           sizeof(float);
}

Status decoder_embed(const Model& model, const int32_t* tokens, int64_t n_tok, float* x, ExtensionState* ext) {
    const ModelWeights& w = model.weights();
    const int64_t D = model.hparams().n_embd;
    ModelExtension* mx = ext ? model.extension() : nullptr;
    // One row of token_embd per token (any type), unless the extension serves
    // the table from its tiered store.
    if (mx && mx->serves_embeddings()) {
        if (auto st = mx->embed(*ext, tokens, n_tok, x); !st) return st;
    } else {
        const TypeKernels* ek = kernels_for(w.tok_embd.type);
        for (int64_t t = 0; t < n_tok; ++t)
            ek->dequantize(w.tok_embd.data + (int64_t)tokens[t] * w.tok_embd.row_bytes, x + t * D, D);
    }
    // gemma's sqrt(n_embd), granite's embedding multiplier.
    if (const float c = model.hparams().embd_scale; c != 1.0f) scale(x, n_tok * D, c);
    return {};
}

namespace {

void add_row(float* y, const float* b, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] += b[i];
}

// Per-token work of n_tok tokens: on the pool, or at once for one token (a
// decode step would otherwise wake the threads for a few hundred floats).
template <class F>
void for_tokens(ThreadPool& pool, int64_t n_tok, F&& fn) {
    if (n_tok == 1)
        fn(0, 1);
    else
        pool.parallel_for(n_tok, fn);
}

}  // namespace

void moe_route(const MoeRouting& r, const float* logits, int64_t n_tok, int32_t* ids, float* weights) {
    const int64_t E = r.n_expert, K = r.n_used;
    thread_local std::vector<float> p;
    thread_local std::vector<int32_t> order;
    p.resize((size_t)E);
    order.resize((size_t)E);
    for (int64_t t = 0; t < n_tok; ++t) {
        const float* l = logits + t * E;
        // The softmax is monotonic: the top k by logit are the top k by p.
        for (int64_t e = 0; e < E; ++e) order[e] = (int32_t)e;
        std::partial_sort(order.begin(), order.begin() + K, order.end(),
                          [&](int32_t a, int32_t b) { return l[a] > l[b] || (l[a] == l[b] && a < b); });
        const int64_t over = r.softmax_chosen ? K : E;  // the softmax's experts
        const float mx = l[order[0]];
        float sum = 0;
        for (int64_t e = 0; e < over; ++e) {
            const int32_t x = r.softmax_chosen ? order[e] : (int32_t)e;
            sum += p[x] = std::exp(l[x] - mx);
        }
        float chosen = 0;
        for (int64_t j = 0; j < K; ++j) chosen += p[order[j]];
        for (int64_t j = 0; j < K; ++j) {
            ids[t * K + j] = order[j];
            weights[t * K + j] = p[order[j]] / (r.renormalize ? chosen : sum);
        }
    }
}

Status moe_experts(const ExpertMatrices& gate_exps, const ExpertMatrices& up_exps, const ExpertMatrices& down_exps,
                   const ExpertActivation& act, MoeScratch& s, const float* in, int64_t n_tok, float* out,
                   ThreadPool& pool, MatmulScratch& mm, ExpertTier* tier, int64_t il) {
    const int64_t D = gate_exps.all.k, F = gate_exps.rows, K = s.n_used, E = gate_exps.n_expert;
    // The experts the batch chose, ascending, and their weights: from the
    // tier (one batched read of those not in DRAM) or the matrices.
    std::vector<int32_t>& chosen = s.chosen;
    s.used.assign((size_t)E, 0);
    for (int64_t i = 0; i < n_tok * K; ++i) s.used[(size_t)s.ids[i]] = 1;
    chosen.clear();
    for (int64_t e = 0; e < E; ++e)
        if (s.used[(size_t)e]) chosen.push_back((int32_t)e);
    std::vector<ExpertWeights>& ew = s.experts;
    ew.resize(chosen.size());
    std::vector<char>& ready = s.ready;
    ready.assign(chosen.size(), 1);
    if (tier) {
        // The missing experts load while the ones in DRAM run.
        if (auto st = tier->begin(il, chosen, ew.data(), ready); !st) return st;
    } else {
        for (size_t c = 0; c < chosen.size(); ++c)
            ew[c] = {gate_exps.expert(chosen[c]), up_exps.expert(chosen[c]), down_exps.expert(chosen[c])};
    }
    std::vector<int64_t>& picks = s.picks;  // (token * K + choice) of one expert
    bool waited = !tier;
    // Pass 0: the experts at hand; pass 1: the others, once they are in.
    for (int pass = 0; pass < 2; ++pass)
    for (size_t ci = 0; ci < chosen.size(); ++ci) {
        if ((ready[ci] != 0) != (pass == 0)) continue;
        if (pass == 1 && !waited) {
            waited = true;
            if (auto st = tier->finish(); !st) return st;
        }
        const int64_t e = chosen[ci];
        picks.clear();
        for (int64_t i = 0; i < n_tok * K; ++i)
            if (s.ids[i] == e) picks.push_back(i);
        const int64_t c = (int64_t)picks.size();
        for (int64_t r = 0; r < c; ++r) std::copy_n(in + picks[r] / K * D, D, s.in.data() + r * D);
        const WeightView *gate = &ew[ci].gate, *up = &ew[ci].up, *down = &ew[ci].down;
        const WeightView* w[] = {gate, up};
        float* y[] = {s.gate.data(), s.up.data()};
        matmul_n(w, y, 2, s.in.data(), c, pool, mm);
        for_tokens(pool, c, [&](int64_t b, int64_t en) {
            for (int64_t r = b; r < en; ++r) {
                float *g = s.gate.data() + r * F, *u = s.up.data() + r * F, *a = s.act.data() + r * F;
                if (gate_exps.bias) add_row(g, gate_exps.bias + e * F, F);
                if (up_exps.bias) add_row(u, up_exps.bias + e * F, F);
                if (act.clamped)
                    swiglu_clamped(g, u, a, F, act.alpha, act.limit);
                else
                    silu_mul(g, u, a, F);
            }
        });
        matmul(*down, s.act.data(), c, s.out.data(), pool, mm);
        if (down_exps.bias)
            for (int64_t r = 0; r < c; ++r) add_row(s.out.data() + r * D, down_exps.bias + e * D, D);
        for (int64_t r = 0; r < c; ++r) std::copy_n(s.out.data() + r * D, D, s.y.data() + picks[r] * D);
    }
    if (!waited)
        if (auto st = tier->finish(); !st) return st;
    for (int64_t t = 0; t < n_tok; ++t) {
        float* o = out + t * D;
        for (int64_t j = 0; j < K; ++j) {
            const float wj = s.weights[t * K + j];
            const float* y = s.y.data() + (t * K + j) * D;
            if (j == 0)
                for (int64_t i = 0; i < D; ++i) o[i] = wj * y[i];
            else
                for (int64_t i = 0; i < D; ++i) o[i] += wj * y[i];
        }
    }
    return {};
}

Status decoder_layers(const Model& model, const ModelWeights& w, KvCache& kv, int64_t kv_first, ForwardScratch& s,
                      float* x, int64_t n_tok, int64_t pos0, int64_t l0, int64_t l1, ThreadPool& pool,
                      const TensorDumpFn* dump, ExtensionState* ext, ExpertTier* experts) {
    const HParams& hp = model.hparams();
    const int64_t D = hp.n_embd, HD = hp.head_dim, KVD = hp.kv_dim();
    auto named = [&](const char* name, int64_t il, const float* data, int64_t n) {
        if (dump && *dump) (*dump)(name, il, data, n_tok, n);
    };
    ModelExtension* mx = ext ? model.extension() : nullptr;
    // As llama.cpp: LongRoPE's long factors for a session longer than the
    // context they were trained for, whatever the position.
    const bool long_ctx = w.rope_freqs_long && kv.n_ctx() > hp.n_ctx_orig;
    const RopeTable rt = hp.rope_table(long_ctx ? w.rope_freqs_long : w.rope_freqs);
    auto buf = [&](Slot sl) { return sl == Slot::X ? x : s.slot[(int)sl].data(); };

    for (int64_t il = l0; il < l1; ++il) {
        const LayerWeights& L = w.layers[il];
        const BlockGraph& g = model.block(il);
        const int64_t kl = il - kv_first;
        if (mx && mx->has_layer(il)) {
            if (auto st = mx->apply(*ext, il, x, n_tok, pos0, pool, dump); !st) return st;
            named("engram_l_out", il, x, D);
        }
        for (size_t i = 0; i < g.nodes.size();) {
            const Node& n = g.nodes[i];
            float* out = buf(n.out);
            const float* in = buf(n.in);
            switch (n.op) {
            case Op::RmsNorm: {
                const float* wv = n.vec ? L.*n.vec : nullptr;
                const int64_t groups = n.width / n.group;
                for_tokens(pool, n_tok, [&](int64_t b, int64_t e) {
                    for (int64_t t = b; t < e; ++t)
                        for (int64_t q = 0; q < groups; ++q)
                            rms_norm(in + t * n.width + q * n.group, wv, out + t * n.width + q * n.group, n.group,
                                     hp.rms_eps);
                });
                break;
            }
            case Op::Matmul: {
                // Up to 4 products of the same input in a row run as one job (Q, K, V; gate, up).
                size_t j = i;
                const WeightView* mats[4];
                float* ys[4];
                int count = 0;
                while (j < g.nodes.size() && count < 4 && g.nodes[j].op == Op::Matmul && g.nodes[j].in == n.in) {
                    mats[count] = &(L.*g.nodes[j].w);
                    ys[count] = buf(g.nodes[j].out);
                    ++count, ++j;
                }
                matmul_n(mats, ys, count, in, n_tok, pool, s.mm);
                for (size_t m = i; m < j; ++m) {
                    const Node& nm = g.nodes[m];
                    if (nm.vec)
                        for (int64_t t = 0; t < n_tok; ++t) add_row(buf(nm.out) + t * nm.width, L.*nm.vec, nm.width);
                    named(nm.name, il, buf(nm.out), nm.width);
                }
                i = j;
                continue;
            }
            case Op::Add:
                for (int64_t v = 0; v < n_tok * n.width; ++v) out[v] += in[v];
                break;
            case Op::Rope: {
                RopeTable r = rt;
                if (n.rope_base > 0) r.freq_base = n.rope_base;
                if (n.rope_scale > 0) r.freq_scale = n.rope_scale;
                for_tokens(pool, n_tok, [&](int64_t b, int64_t e) {
                    for (int64_t t = b; t < e; ++t)
                        for (int64_t h = 0; h < n.heads; ++h) rope_head(out + t * n.width + h * HD, HD, pos0 + t, r, hp.rope_type);
                });
                break;
            }
            case Op::StoreKv: {
                const float* v = buf(n.in2);
                for_tokens(pool, n_tok, [&](int64_t b, int64_t e) {
                    for (int64_t t = b; t < e; ++t) {
                        store_f16(in + t * KVD, kv.k(kl) + (pos0 + t) * KVD, KVD);
                        store_f16(v + t * KVD, kv.v(kl) + (pos0 + t) * KVD, KVD);
                    }
                });
                ++i;
                continue;  // nothing new to show
            }
            case Op::Attention: {
                AttentionArgs aa{in, kv.k(kl), kv.v(kl), out, s.scores.data(), n_tok, pos0, hp.n_head, hp.n_head_kv,
                                 HD, kv.n_ctx(), attention_scores_stride(kv.n_ctx())};
                aa.window = n.window;
                aa.sinks = n.sinks ? L.*n.sinks : nullptr;
                aa.softcap = n.softcap;
                attention(aa, pool);
                break;
            }
            case Op::SwiGlu: {
                const float* up = buf(n.in2);
                for_tokens(pool, n_tok, [&](int64_t b, int64_t e) {
                    for (int64_t t = b; t < e; ++t)
                        silu_mul(in + t * n.width, up + t * n.width, out + t * n.width, n.width);
                });
                break;
            }
            case Op::GeGlu: {
                const float* up = buf(n.in2);
                for_tokens(pool, n_tok, [&](int64_t b, int64_t e) {
                    for (int64_t t = b; t < e; ++t)
                        gelu_mul(in + t * n.width, up + t * n.width, out + t * n.width, n.width);
                });
                break;
            }
            case Op::Scale:
                for (int64_t t = 0; t < n_tok; ++t) scale(out + t * n.width, n.width, n.scale);
                break;
            case Op::MoeRoute:
                moe_route(n.routing, in, n_tok, s.moe.ids.data(), s.moe.weights.data());
                break;
            case Op::MoeExperts:
                if (auto st = moe_experts(L.gate_exps, L.up_exps, L.down_exps, n.act, s.moe, in, n_tok, out, pool,
                                          s.mm, experts, il);
                    !st)
                    return st;
                break;
            }
            named(n.name, il, out, n.width);
            ++i;
        }
    }
    return {};
}

void decoder_output(const Model& model, const ModelWeights& w, ForwardScratch& s, const float* x_last,
                    ThreadPool& pool, const TensorDumpFn* dump) {
    const HParams& hp = model.hparams();
    float* xn = s.slot[(int)Slot::Norm].data();
    rms_norm(x_last, w.output_norm, xn, hp.n_embd, hp.rms_eps);
    if (dump && *dump) (*dump)("result_norm", -1, xn, 1, hp.n_embd);
    matmul(w.output, xn, 1, s.logits.data(), pool, s.mm);
    finish_logits(hp, s.logits.data());
}

void finish_logits(const HParams& hp, float* logits) {
    // As llama.cpp's graphs: granite multiplies by 1 / logit_scale, gemma2
    // caps c * tanh(l / c).
    if (hp.logit_scale != 1.0f) scale(logits, hp.n_vocab, 1.0f / hp.logit_scale);
    if (hp.final_softcap > 0) softcap(logits, hp.n_vocab, hp.final_softcap);
}

}  // namespace eg
