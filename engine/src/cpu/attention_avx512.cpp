// The AVX-512 kernel of the flash-style attention (attention_flash.h): per
// query token and KV head, the positions go by in blocks of 16; each block's
// K and V rows are converted to F32 once and used by every query head that
// shares them (GQA), 16 scores at a time come from 16 dot products reduced
// together, and each head's running maximum, sum and output are rescaled as
// blocks arrive.
//
// Compiled with AVX-512 F/BW/VL/DQ (file name suffix); used only where the
// CPU has them.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "cpu/attention_flash.h"

#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // GCC 12's _mm512_undefined_* in its own headers

namespace eg::flash {
namespace {

constexpr int kBlock = 16;  // positions per block

// exp(x) for x <= 0 (x = -inf gives 0): 2^n * p(r) with a degree-6
// polynomial, n = round(x / ln 2); relative error ~2 ulp.
inline __m512 exp_neg(__m512 x) {
    x = _mm512_max_ps(x, _mm512_set1_ps(-104.0f));  // exp(-104) rounds to 0
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.428606765330187045e-06f), r);
    __m512 p = _mm512_set1_ps(1.0f / 720.0f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

// Lane i of the result = the sum of the 16 lanes of a[i].
inline __m512 transpose_sum16(__m512 a[16]) {
    __m512 x[8], y[4], z[2];
    for (int i = 0; i < 8; ++i)
        x[i] = _mm512_add_ps(_mm512_unpacklo_ps(a[2 * i], a[2 * i + 1]), _mm512_unpackhi_ps(a[2 * i], a[2 * i + 1]));
    for (int i = 0; i < 4; ++i) {
        const __m512d u = _mm512_castps_pd(x[2 * i]), v = _mm512_castps_pd(x[2 * i + 1]);
        y[i] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(u, v)), _mm512_castpd_ps(_mm512_unpackhi_pd(u, v)));
    }
    for (int i = 0; i < 2; ++i)
        z[i] = _mm512_add_ps(_mm512_shuffle_f32x4(y[2 * i], y[2 * i + 1], 0x88),
                             _mm512_shuffle_f32x4(y[2 * i], y[2 * i + 1], 0xdd));
    return _mm512_add_ps(_mm512_shuffle_f32x4(z[0], z[1], 0x88), _mm512_shuffle_f32x4(z[0], z[1], 0xdd));
}

// Positions [j0, j1) for query token t and the heads of KV head g: updates
// st[G] and o[G][hd] (o in units of the running maximum).
template <int NC>
void attend(const AttentionArgs& a, int64_t t, int64_t g, int64_t j0, int64_t j1, HeadState* st, float* o,
            Scratch& s) {
    constexpr int64_t hd = NC * 16;
    const int64_t G = a.n_head / a.n_head_kv;
    const int64_t kv_stride = a.n_head_kv * hd;
    const float scale = 1.0f / std::sqrt((float)hd);
    float* q = s.q.data();
    for (int64_t h = 0; h < G; ++h) {
        const float* src = a.q + (t * a.n_head + g * G + h) * hd;
        for (int c = 0; c < NC; ++c)
            _mm512_storeu_ps(q + h * hd + 16 * c, _mm512_mul_ps(_mm512_loadu_ps(src + 16 * c), _mm512_set1_ps(scale)));
    }
    float* kf = s.kf.data();
    float* vf = s.vf.data();
    alignas(64) float p[kBlock];
    for (int64_t jb = j0; jb < j1; jb += kBlock) {
        const int nb = (int)std::min<int64_t>(kBlock, j1 - jb);
        for (int i = 0; i < kBlock; ++i) {
            const int64_t j = jb + std::min(i, nb - 1);  // past the end: a copy, masked below
            const uint16_t* kr = a.k + j * kv_stride + g * hd;
            const uint16_t* vr = a.v + j * kv_stride + g * hd;
            for (int c = 0; c < NC; ++c) {
                _mm512_storeu_ps(kf + i * hd + 16 * c, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i*)(kr + 16 * c))));
                _mm512_storeu_ps(vf + i * hd + 16 * c, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i*)(vr + 16 * c))));
            }
        }
        const __mmask16 valid = (__mmask16)((1u << nb) - 1u);
        for (int64_t h = 0; h < G; ++h) {
            __m512 qv[NC];
            for (int c = 0; c < NC; ++c) qv[c] = _mm512_loadu_ps(q + h * hd + 16 * c);
            __m512 acc[kBlock];
            for (int i = 0; i < kBlock; ++i) {
                __m512 d = _mm512_mul_ps(qv[0], _mm512_loadu_ps(kf + i * hd));
                for (int c = 1; c < NC; ++c) d = _mm512_fmadd_ps(qv[c], _mm512_loadu_ps(kf + i * hd + 16 * c), d);
                acc[i] = d;
            }
            const __m512 sc = _mm512_mask_blend_ps(valid, _mm512_set1_ps(-INFINITY), transpose_sum16(acc));
            HeadState& hs = st[h];
            const float mnew = std::max(hs.m, _mm512_reduce_max_ps(sc));
            const __m512 pv = _mm512_maskz_mov_ps(valid, exp_neg(_mm512_sub_ps(sc, _mm512_set1_ps(mnew))));
            const float c = std::exp(hs.m - mnew);  // 0 for the first block (m = -inf)
            hs.l = hs.l * c + _mm512_reduce_add_ps(pv);
            hs.m = mnew;
            _mm512_store_ps(p, pv);
            float* oh = o + h * hd;
            __m512 ov[NC];
            for (int cc = 0; cc < NC; ++cc) ov[cc] = _mm512_mul_ps(_mm512_loadu_ps(oh + 16 * cc), _mm512_set1_ps(c));
            for (int i = 0; i < nb; ++i) {
                const __m512 pi = _mm512_set1_ps(p[i]);
                for (int cc = 0; cc < NC; ++cc) ov[cc] = _mm512_fmadd_ps(pi, _mm512_loadu_ps(vf + i * hd + 16 * cc), ov[cc]);
            }
            for (int cc = 0; cc < NC; ++cc) _mm512_storeu_ps(oh + 16 * cc, ov[cc]);
        }
    }
}

template <int NC>
AttendFn pick(int nc) {
    if constexpr (NC > 1) {
        if (nc < NC) return pick<NC - 1>(nc);
    }
    return attend<NC>;
}

}  // namespace

Kernel kernel_avx512(int64_t head_dim) {
    if (head_dim % 16 != 0 || head_dim < 16 || head_dim > 256) return {};
    return {pick<16>((int)(head_dim / 16)), kBlock};
}

}  // namespace eg::flash
