// Attention, softmax and SwiGLU written so that every float operation happens
// in the same order and with the same rounding as llama.cpp's CPU backend
// (ggml built for AVX-512, GCC): 16-lane FMA chains reduced as GCC's
// _mm512_reduce_add_ps does, ggml's exp polynomial, F16 rounding of the
// operands of F16 products. That makes our greedy output token-identical to
// llama.cpp's instead of drifting apart at the first near-tie.
//
// This header is compiled twice: in attention.cpp for any x86-64 (std::fma is
// a library call there) and in attention_avx2.cpp with -mfma, where std::fma
// is one instruction. Both give the same bits. Include it inside a namespace.
// Nothing here may be contracted into FMAs implicitly: the project builds with
// ISO C++ (-ffp-contract=off), and every fused multiply-add is spelled out.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "core/fp16.h"
#include "cpu/ops.h"

#ifndef EG_H2F
#define EG_H2F(h) eg::fp16_to_fp32(h)
#endif

// Sum of 16 lanes in the order of GCC's _mm512_reduce_add_ps: halves, then
// quarters, then pairs.
inline float tree16(const float* a) {
    float t[8], u[4];
    for (int i = 0; i < 8; ++i) t[i] = a[i + 8] + a[i];
    for (int i = 0; i < 4; ++i) u[i] = t[i + 4] + t[i];
    return (u[0] + u[2]) + (u[1] + u[3]);
}

// The vectors of ggml_vec_dot_f16 (4 accumulators x 16 lanes over steps of
// 64, reduced 0+2, 1+3, then 0+1), as per-lane accumulators acc[64].
inline double reduce_vecdot64(const float* acc) {
    float s[16];
    for (int l = 0; l < 16; ++l) s[l] = (acc[l] + acc[l + 32]) + (acc[l + 16] + acc[l + 48]);
    return (double)tree16(s);
}

// ggml_vec_dot_f16: used by llama.cpp for F16 products with one column
// (decode). x, y: F16, n elements.
inline float dot_f16_vecdot(const uint16_t* x, const uint16_t* y, int64_t n) {
    const int64_t np = n & ~int64_t(63);
    float acc[64] = {};
    for (int64_t i = 0; i < np; i += 64)
        for (int l = 0; l < 64; ++l) acc[l] = std::fma(EG_H2F(x[i + l]), EG_H2F(y[i + l]), acc[l]);
    double sum = reduce_vecdot64(acc);
    for (int64_t i = np; i < n; ++i) sum += (double)(EG_H2F(x[i]) * EG_H2F(y[i]));
    return (float)sum;
}

// llama.cpp's tiled GEMM (tinyBLAS, 16 lanes): used for F16 products with
// two or more columns (prefill). n % 16 == 0.
inline float dot_f16_tiled(const uint16_t* x, const uint16_t* y, int64_t n) {
    float acc[16] = {};
    for (int64_t i = 0; i < n; i += 16)
        for (int l = 0; l < 16; ++l) acc[l] = std::fma(EG_H2F(x[i + l]), EG_H2F(y[i + l]), acc[l]);
    return tree16(acc);
}

// ggml_v_expf (AVX-512 form): exp by 2^n * polynomial, one lane.
inline float exp_ggml(float x) {
    const float r = 0x1.8p23f;
    const float z = std::fma(x, 0x1.715476p+0f, r);
    const float n = z - r;
    const float b = std::fma(-n, 0x1.7f7d1cp-20f, std::fma(-n, 0x1.62e4p-1f, x));
    if (!(std::fabs(n) <= 192.0f)) return n <= 0.0f ? 0.0f : INFINITY;  // also -inf input: n = -inf
    const float u = b * b;
    const float j = std::fma(std::fma(std::fma(0x1.0e4020p-7f, b, 0x1.573e2ep-5f), u,
                                      std::fma(0x1.555e66p-3f, b, 0x1.fffdb6p-2f)),
                             u, std::fma(0x1.ffffecp-1f, b, 1.0f));
    return std::ldexp(j, (int)n);  // _mm512_scalef_ps: j * 2^n, rounded once
}

// ggml_vec_swiglu_f32: h = silu(g) * u, silu(x) = x / (1 + exp(-x)); the
// tail past a multiple of 16 uses expf as ggml does.
inline void swiglu_ggml(const float* g, const float* u, float* h, int64_t n) {
    const int64_t nv = n & ~int64_t(15);
    for (int64_t i = 0; i < nv; ++i) h[i] = (g[i] / (1.0f + exp_ggml(0.0f - g[i]))) * u[i];
    for (int64_t i = nv; i < n; ++i) h[i] = (g[i] / (1.0f + std::exp(-g[i]))) * u[i];
}

// One query row of causal attention, (t, h) of a batch: scores, softmax and
// the weighted sum of values, as llama.cpp computes them without flash
// attention. Batches of two or more queries go through its tiled GEMM, one
// query through ggml_vec_dot_f16; the KV length it works on is padded to 32.
//   sc: [n_kv] scratch, qh: [head_dim], ph: [n_kv], acc: [64 * head_dim]
inline void attention_row(const eg::AttentionArgs& a, int64_t t, int64_t h, float* sc, uint16_t* qh, uint16_t* ph,
                          float* acc) {
    const int64_t hd = a.head_dim;
    const int64_t group = a.n_head / a.n_head_kv;
    const int64_t g = h / group;
    const int64_t kv_stride = a.n_head_kv * hd;
    const int64_t n_valid = a.pos0 + t + 1;  // causal: positions [0, pos0 + t]
    const int64_t n_kv = llama_kv_view_length(a);
    const bool tiled = a.n_tok >= 2;
    const float scale = 1.0f / std::sqrt((float)hd);

    const float* q = a.q + t * a.n_head * hd + h * hd;
    for (int64_t d = 0; d < hd; ++d) qh[d] = eg::fp32_to_fp16(q[d]);
    float mx = -INFINITY;
    for (int64_t j = 0; j < n_valid; ++j) {
        const uint16_t* k = a.k + j * kv_stride + g * hd;
        const float dot = (tiled && hd % 16 == 0) ? dot_f16_tiled(k, qh, hd) : dot_f16_vecdot(k, qh, hd);
        sc[j] = dot * scale;
        mx = sc[j] > mx ? sc[j] : mx;
    }
    // Softmax: exp per lane, 16-lane sums reduced as a tree, chunks in double.
    const int64_t n_chunks = (n_valid + 15) / 16;
    for (int64_t j = n_valid; j < n_chunks * 16; ++j) sc[j] = 0.0f;  // masked lanes: exp(-inf) = 0
    for (int64_t j = 0; j < n_valid; ++j) sc[j] = exp_ggml(sc[j] - mx);
    double sum = 0.0;
    for (int64_t c = 0; c < n_chunks; ++c) sum += (double)tree16(sc + c * 16);
    const float inv = (float)(1.0 / sum);
    for (int64_t j = 0; j < n_valid; ++j) ph[j] = eg::fp32_to_fp16(sc[j] * inv);

    // Values: out[d] = sum_j p[j] * v[j][d], lanes by position. Masked
    // positions have p = 0 and add exactly nothing, so they are skipped.
    float* out = a.out + t * a.n_head * hd + h * hd;
    const int lanes = tiled ? 16 : 64;
    const int64_t np = tiled ? n_valid : std::min<int64_t>(n_kv & ~int64_t(63), n_valid);
    std::memset(acc, 0, sizeof(float) * lanes * hd);
    for (int64_t j = 0; j < np; ++j) {
        const float p = EG_H2F(ph[j]);
        const uint16_t* v = a.v + j * kv_stride + g * hd;
        float* ac = acc + (j % lanes) * hd;
        for (int64_t d = 0; d < hd; ++d) ac[d] = std::fma(EG_H2F(v[d]), p, ac[d]);
    }
    float lane[64];
    for (int64_t d = 0; d < hd; ++d) {
        for (int l = 0; l < lanes; ++l) lane[l] = acc[l * hd + d];
        if (tiled) {
            out[d] = tree16(lane);
        } else {
            double s = reduce_vecdot64(lane);
            for (int64_t j = np; j < n_valid; ++j) {
                const uint16_t* v = a.v + j * kv_stride + g * hd;
                s += (double)(EG_H2F(v[d]) * EG_H2F(ph[j]));
            }
            out[d] = (float)s;
        }
    }
}
