// Element-wise and per-row operations of the decoder on the CPU: RMSNorm,
// RoPE, SwiGLU and causal attention over an F16 KV cache.
#pragma once

#include <cstdint>

#include "cpu/rope.h"

namespace eg {

class ThreadPool;

// y = x / rms(x) * w   (x, y, w: [n]; y may alias x; w may be null)
void rms_norm(const float* x, const float* w, float* y, int64_t n, float eps);

// Rotates one head x[head_dim] at position pos.
void rope_head(float* x, int64_t head_dim, int64_t pos, const RopeTable& rt, RopeType type);

// h = silu(g) * u   ([n])
void silu_mul(const float* g, const float* u, float* h, int64_t n);

// h = gelu(g) * u, GELU's tanh form 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))   ([n])
void gelu_mul(const float* g, const float* u, float* h, int64_t n);

// In place: x[n] *= c
void scale(float* x, int64_t n, float c);

// In place: x[n] = c * tanh(x / c), c > 0
void softcap(float* x, int64_t n, float c);

// gpt-oss's clamped SwiGLU: x = min(g, limit), h = x * sigmoid(alpha * x) *
// (clamp(u, -limit, limit) + 1)   ([n])
void swiglu_clamped(const float* g, const float* u, float* h, int64_t n, float alpha, float limit);

// The gate of a lookup (Engram) module at one position (model/extension.h,
// LookupModule): s = <rms_norm(x)*q_norm, rms_norm(key)*k_norm> / sqrt(n)
// (the dot in double), g = sigmoid(sign(s) * sqrt(max(|s|, 1e-6))), and
// out = g * value. qn and kn are scratch of n floats (kn may be out).
// Returns g.
float lookup_gate(const float* x, const float* key, const float* value, const float* q_norm, const float* k_norm,
                  int64_t n, float eps, float* qn, float* kn, float* out);

// The module's causal depthwise convolution at position t over the history
// of its inputs hist [>= t+1, n]: y[c] = SiLU(sum_k w[c*K + k] *
// hist[t - (K-1-k)*dil][c]), positions before 0 reading 0.
void lookup_conv(const float* hist, const float* w, int64_t K, int64_t dil, int64_t t, int64_t n, float* y);

// Rounds float to F16 in place of the KV store: dst[n] <- src[n].
void store_f16(const float* src, uint16_t* dst, int64_t n);

struct AttentionArgs {
    const float* q;        // [n_tok, n_head * head_dim], already roped
    const uint16_t* k;     // cache [n_ctx, n_head_kv * head_dim] F16
    const uint16_t* v;     // cache [n_ctx, n_head_kv * head_dim] F16
    float* out;            // [n_tok, n_head * head_dim]
    float* scores;         // scratch: [n_threads, scores_stride]
    int64_t n_tok;         // queries in this batch
    int64_t pos0;          // absolute position of the first query
    int64_t n_head, n_head_kv, head_dim;
    int64_t n_ctx;         // cache length (llama.cpp's KV view is padded to 32 within it)
    int64_t scores_stride; // >= attention_scores_stride(n_ctx)
    // Sliding window: query at position p sees (p - window, p] only; 0: all.
    int64_t window = 0;
    // Attention sinks [n_head] (gpt-oss): one more logit per head in the
    // softmax's denominator, with no value; null: none.
    const float* sinks = nullptr;
    // Soft-capping (gemma2): each scaled score s becomes softcap * tanh(s / softcap); 0: none.
    float softcap = 0;
};

// The KV length llama.cpp's attention works on: the positions in use after
// this batch, padded to 32 (its KV-cache padding without flash attention),
// within the cache. Only the decode dot product's split depends on it.
inline int64_t llama_kv_view_length(const AttentionArgs& a) {
    const int64_t used = a.pos0 + a.n_tok;
    const int64_t padded = used <= 32 ? 32 : (used + 31) / 32 * 32;
    const int64_t cap = (a.n_ctx + 31) / 32 * 32;
    return padded < cap ? padded : cap;
}

// Scores per thread: softmax works on whole 16-lane chunks past the context.
inline int64_t attention_scores_stride(int64_t n_ctx) { return (n_ctx + 31) / 32 * 32 + 16; }

// Causal softmax attention: query t sees cache positions [0, pos0 + t]
// (the last `window` of them with a window; sinks in the denominator).
void attention(const AttentionArgs& a, ThreadPool& pool);

// The same with a window, sinks or soft-capping, plainly (exact F32 scores, one query
// head at a time): where the flash kernels cannot run, and for tests.
void attention_windowed(const AttentionArgs& a, ThreadPool& pool);

// Flash-style attention (exact F32 scores, online softmax, one pass over
// the cache per query and KV head): what attention() runs, with the AVX-512
// or the AVX2 kernel, where the CPU has them and the head size has a kernel.
// isa: "avx512" or "avx2" (tests run both); false when it cannot run here.
bool attention_flash(const AttentionArgs& a, ThreadPool& pool, const char* isa);

// The llama.cpp-order implementations (portable reference and AVX2/FMA/F16C;
// call the latter only where the CPU has those) behind attention() on other
// CPUs and head sizes, and the two behind silu_mul(), for tests that check
// they give the same bits.
void attention_generic(const AttentionArgs& a, ThreadPool& pool);
void attention_avx2(const AttentionArgs& a, ThreadPool& pool);
void swiglu_generic(const float* g, const float* u, float* h, int64_t n);
void swiglu_avx2(const float* g, const float* u, float* h, int64_t n);

}  // namespace eg
