// The AVX2 kernel of the flash-style attention (attention_flash.h): the
// algorithm of attention_avx512.cpp on 8-lane vectors, 8 positions a block.
//
// Compiled with AVX2/FMA/F16C (file name suffix); used only where the CPU
// has them.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "cpu/attention_flash.h"

namespace eg::flash {
namespace {

constexpr int kBlock = 8;  // positions per block

// exp(x) for x <= 0: 2^n * p(r), n = round(x / ln 2), the polynomial of the
// AVX-512 kernel; x is clamped at -87 (exp(-87) ~ 1.6e-38: below any weight
// that matters next to the block's maximum, exp(0) = 1), so 2^n stays a
// normal float built in its exponent bits.
inline __m256 exp_neg(__m256 x) {
    x = _mm256_max_ps(x, _mm256_set1_ps(-87.0f));
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693145751953125f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(1.428606765330187045e-06f), r);
    __m256 p = _mm256_set1_ps(1.0f / 720.0f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

// Lane i of the result = the sum of the 8 lanes of a[i].
inline __m256 transpose_sum8(const __m256 a[8]) {
    const __m256 x0 = _mm256_hadd_ps(a[0], a[1]), x1 = _mm256_hadd_ps(a[2], a[3]);
    const __m256 x2 = _mm256_hadd_ps(a[4], a[5]), x3 = _mm256_hadd_ps(a[6], a[7]);
    const __m256 y0 = _mm256_hadd_ps(x0, x1), y1 = _mm256_hadd_ps(x2, x3);
    return _mm256_add_ps(_mm256_permute2f128_ps(y0, y1, 0x20), _mm256_permute2f128_ps(y0, y1, 0x31));
}

inline float hmax(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    return _mm_cvtss_f32(_mm_max_ss(m, _mm_movehdup_ps(m)));
}
inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}

template <int NC>
void attend(const AttentionArgs& a, int64_t t, int64_t g, int64_t j0, int64_t j1, HeadState* st, float* o,
            Scratch& s) {
    constexpr int64_t hd = NC * 8;
    const int64_t G = a.n_head / a.n_head_kv;
    const int64_t kv_stride = a.n_head_kv * hd;
    const float scale = 1.0f / std::sqrt((float)hd);
    float* q = s.q.data();
    for (int64_t h = 0; h < G; ++h) {
        const float* src = a.q + (t * a.n_head + g * G + h) * hd;
        for (int c = 0; c < NC; ++c)
            _mm256_storeu_ps(q + h * hd + 8 * c, _mm256_mul_ps(_mm256_loadu_ps(src + 8 * c), _mm256_set1_ps(scale)));
    }
    float* kf = s.kf.data();
    float* vf = s.vf.data();
    alignas(32) float p[kBlock];
    for (int64_t jb = j0; jb < j1; jb += kBlock) {
        const int nb = (int)std::min<int64_t>(kBlock, j1 - jb);
        for (int i = 0; i < kBlock; ++i) {
            const int64_t j = jb + std::min(i, nb - 1);  // past the end: a copy, masked below
            const uint16_t* kr = a.k + j * kv_stride + g * hd;
            const uint16_t* vr = a.v + j * kv_stride + g * hd;
            for (int c = 0; c < NC; ++c) {
                _mm256_storeu_ps(kf + i * hd + 8 * c, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(kr + 8 * c))));
                _mm256_storeu_ps(vf + i * hd + 8 * c, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(vr + 8 * c))));
            }
        }
        const __m256 valid = _mm256_castsi256_ps(
            _mm256_cmpgt_epi32(_mm256_set1_epi32(nb), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)));
        for (int64_t h = 0; h < G; ++h) {
            const float* qh = q + h * hd;
            __m256 acc[kBlock];
            for (int i = 0; i < kBlock; ++i) {
                __m256 d = _mm256_mul_ps(_mm256_loadu_ps(qh), _mm256_loadu_ps(kf + i * hd));
                for (int c = 1; c < NC; ++c) d = _mm256_fmadd_ps(_mm256_loadu_ps(qh + 8 * c), _mm256_loadu_ps(kf + i * hd + 8 * c), d);
                acc[i] = d;
            }
            const __m256 sc = _mm256_blendv_ps(_mm256_set1_ps(-INFINITY), transpose_sum8(acc), valid);
            HeadState& hs = st[h];
            const float mnew = std::max(hs.m, hmax(sc));
            const __m256 pv = _mm256_and_ps(valid, exp_neg(_mm256_sub_ps(sc, _mm256_set1_ps(mnew))));
            const float c = std::exp(hs.m - mnew);  // 0 for the first block (m = -inf)
            hs.l = hs.l * c + hsum(pv);
            hs.m = mnew;
            _mm256_store_ps(p, pv);
            float* oh = o + h * hd;
            for (int cc = 0; cc < NC; ++cc) {
                __m256 ov = _mm256_mul_ps(_mm256_loadu_ps(oh + 8 * cc), _mm256_set1_ps(c));
                for (int i = 0; i < nb; ++i)
                    ov = _mm256_fmadd_ps(_mm256_set1_ps(p[i]), _mm256_loadu_ps(vf + i * hd + 8 * cc), ov);
                _mm256_storeu_ps(oh + 8 * cc, ov);
            }
        }
    }
}

}  // namespace

Kernel kernel_avx2(int64_t head_dim) {
    switch (head_dim) {
        case 32: return {attend<4>, kBlock};
        case 64: return {attend<8>, kBlock};
        case 80: return {attend<10>, kBlock};
        case 96: return {attend<12>, kBlock};
        case 128: return {attend<16>, kBlock};
        case 160: return {attend<20>, kBlock};
        case 192: return {attend<24>, kBlock};
        case 256: return {attend<32>, kBlock};
        default: return {};
    }
}

}  // namespace eg::flash
