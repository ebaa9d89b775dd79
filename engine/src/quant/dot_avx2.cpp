// AVX2/FMA dot products for every supported type, the activation quantizers
// on the hot path, and the tiled matmul kernels for the 32-element block types
// (x86_tiles.h).
// Compiled with -mavx2 -mfma -mf16c (file name suffix); the dispatcher calls
// these only after CPUID says the CPU has them.
//
// Integer products use maddubs (u8 x s8 -> pairs summed to s16) then madd
// (s16 pairs -> s32). maddubs saturates at 32767: every pairing below stays
// under it (largest: |w| <= 128 with |x| <= 127 -> 2*128*127 = 32512).
#include <immintrin.h>

#include <cstring>

#include "core/fp16.h"
#include "quant/kernels_impl.h"
#include "quant/x86_tiles.h"

namespace eg::quant {

// ---------------------------------------------------------------- floats ---

float dot_f32_avx2(int64_t n, const void* w, const void* x) {
    const float* a = (const float*)w;
    const float* b = (const float*)x;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
    }
    float s = hsum(_mm256_add_ps(acc0, acc1));
    for (; i < n; ++i) s += a[i] * b[i];
    return s;
}

float dot_f16_avx2(int64_t n, const void* w, const void* x) {
    const uint16_t* a = (const uint16_t*)w;
    const uint16_t* b = (const uint16_t*)x;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        acc0 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(a + i))),
                               _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(b + i))), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(a + i + 8))),
                               _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(b + i + 8))), acc1);
    }
    float s = hsum(_mm256_add_ps(acc0, acc1));
    for (; i < n; ++i) s += h2f(a[i]) * h2f(b[i]);
    return s;
}

float dot_bf16_avx2(int64_t n, const void* w, const void* x) {
    const uint16_t* a = (const uint16_t*)w;
    const float* b = (const float*)x;
    __m256 acc = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256i h = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i*)(a + i)));
        const __m256 wf = _mm256_castsi256_ps(_mm256_slli_epi32(h, 16));
        acc = _mm256_fmadd_ps(wf, _mm256_loadu_ps(b + i), acc);
    }
    float s = hsum(acc);
    for (; i < n; ++i) s += bf16_to_fp32(a[i]) * b[i];
    return s;
}

// ------------------------------------------------------- 32-element blocks ---

// One tile row and column: the same code (and float rounding) as the matmul.
float dot_q4_0_avx2(int64_t n, const void* w, const void* x) { return vec_dot_1x1<Q4_0Tile>(n, w, x); }
float dot_q4_1_avx2(int64_t n, const void* w, const void* x) { return vec_dot_1x1<Q4_1Tile>(n, w, x); }
float dot_q5_0_avx2(int64_t n, const void* w, const void* x) { return vec_dot_1x1<Q5_0Tile>(n, w, x); }
float dot_q5_1_avx2(int64_t n, const void* w, const void* x) { return vec_dot_1x1<Q5_1Tile>(n, w, x); }
float dot_q8_0_avx2(int64_t n, const void* w, const void* x) { return vec_dot_1x1<Q8_0Tile>(n, w, x); }
float dot_mxfp4_avx2(int64_t n, const void* w, const void* x) { return vec_dot_1x1<MXFP4Tile>(n, w, x); }

// -------------------------------------------------------------- k-quants ---
// All weights are made unsigned (an offset is removed afterwards through the
// Q8_K bsums), multiplied with maddubs, and the two 16-element groups of a
// 32-byte chunk get their own scale through madd with [sA x8 | sB x8].

namespace {
inline __m256i scale_pair(int sa, int sb) {
    return _mm256_set_m128i(_mm_set1_epi16((short)sb), _mm_set1_epi16((short)sa));
}
inline __m256i scaled_dot(__m256i u, const int8_t* xq, __m256i scales) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, load32(xq)), scales);
}
}  // namespace

float dot_q2_K_avx2(int64_t n, const void* w, const void* x) {
    const block_q2_K* a = (const block_q2_K*)w;
    const block_q8_K* b = (const block_q8_K*)x;
    const __m256i m3 = _mm256_set1_epi8(3);
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK_K; ++i) {
        __m256i isum = _mm256_setzero_si256();
        for (int h = 0; h < 2; ++h) {
            const __m256i q = load32(a[i].qs + h * 32);
            for (int s = 0; s < 4; ++s) {
                const int g = h * 8 + s * 2;
                const __m256i v = _mm256_and_si256(_mm256_srli_epi16(q, 2 * s), m3);
                isum = _mm256_add_epi32(isum, scaled_dot(v, b[i].qs + (h * 4 + s) * 32,
                                                         scale_pair(a[i].scales[g] & 15, a[i].scales[g + 1] & 15)));
            }
        }
        int sm = 0;
        for (int g = 0; g < 16; ++g) sm += (a[i].scales[g] >> 4) * b[i].bsums[g];
        const __m256 vs = _mm256_cvtepi32_ps(isum);
        sum += b[i].d * (h2f(a[i].d) * hsum(vs) - h2f(a[i].dmin) * (float)sm);
    }
    return sum;
}

float dot_q3_K_avx2(int64_t n, const void* w, const void* x) {
    const block_q3_K* a = (const block_q3_K*)w;
    const block_q8_K* b = (const block_q8_K*)x;
    const __m256i m3 = _mm256_set1_epi8(3), one = _mm256_set1_epi8(1);
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK_K; ++i) {
        int8_t sc[16];
        q3_K_scales(a[i].scales, sc);
        const __m256i hm = load32(a[i].hmask);
        __m256i isum = _mm256_setzero_si256();
        for (int h = 0; h < 2; ++h) {
            const __m256i q = load32(a[i].qs + h * 32);
            for (int s = 0; s < 4; ++s) {
                const int c = h * 4 + s, g = c * 2;
                // value + 4 = low 2 bits | (high bit << 2), in 0..7
                const __m256i hb = _mm256_and_si256(_mm256_srli_epi16(hm, c), one);
                const __m256i v = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 2 * s), m3),
                                                  _mm256_slli_epi16(hb, 2));
                isum = _mm256_add_epi32(isum, scaled_dot(v, b[i].qs + c * 32, scale_pair(sc[g], sc[g + 1])));
            }
        }
        int off = 0;
        for (int g = 0; g < 16; ++g) off += sc[g] * b[i].bsums[g];
        const float is = hsum(_mm256_cvtepi32_ps(isum));
        sum += b[i].d * h2f(a[i].d) * (is - 4.0f * (float)off);
    }
    return sum;
}

float dot_q4_K_avx2(int64_t n, const void* w, const void* x) {
    const block_q4_K* a = (const block_q4_K*)w;
    const block_q8_K* b = (const block_q8_K*)x;
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    __m256 acc = _mm256_setzero_ps();
    float summ = 0.0f;
    for (int64_t i = 0; i < n / QK_K; ++i) {
        uint8_t sc[8], mn[8];
        for (int j = 0; j < 8; ++j) k4_scale_min(j, a[i].scales, &sc[j], &mn[j]);
        __m256i isum = _mm256_setzero_si256();
        for (int c = 0; c < 4; ++c) {
            const __m256i q = load32(a[i].qs + c * 32);
            const __m256i lo = _mm256_and_si256(q, m4);
            const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
            isum = _mm256_add_epi32(isum, scaled_dot(lo, b[i].qs + (2 * c) * 32, _mm256_set1_epi16(sc[2 * c])));
            isum = _mm256_add_epi32(isum, scaled_dot(hi, b[i].qs + (2 * c + 1) * 32, _mm256_set1_epi16(sc[2 * c + 1])));
        }
        int sm = 0;
        for (int j = 0; j < 8; ++j) sm += mn[j] * (b[i].bsums[2 * j] + b[i].bsums[2 * j + 1]);
        acc = _mm256_fmadd_ps(_mm256_set1_ps(b[i].d * h2f(a[i].d)), _mm256_cvtepi32_ps(isum), acc);
        summ += b[i].d * h2f(a[i].dmin) * (float)sm;
    }
    return hsum(acc) - summ;
}

float dot_q5_K_avx2(int64_t n, const void* w, const void* x) {
    const block_q5_K* a = (const block_q5_K*)w;
    const block_q8_K* b = (const block_q8_K*)x;
    const __m256i m4 = _mm256_set1_epi8(0x0f), one = _mm256_set1_epi8(1);
    __m256 acc = _mm256_setzero_ps();
    float summ = 0.0f;
    for (int64_t i = 0; i < n / QK_K; ++i) {
        uint8_t sc[8], mn[8];
        for (int j = 0; j < 8; ++j) k4_scale_min(j, a[i].scales, &sc[j], &mn[j]);
        const __m256i qh = load32(a[i].qh);
        __m256i isum = _mm256_setzero_si256();
        for (int c = 0; c < 4; ++c) {
            const __m256i q = load32(a[i].qs + c * 32);
            const __m256i h0 = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * c), one), 4);
            const __m256i h1 = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * c + 1), one), 4);
            const __m256i lo = _mm256_or_si256(_mm256_and_si256(q, m4), h0);
            const __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), m4), h1);
            isum = _mm256_add_epi32(isum, scaled_dot(lo, b[i].qs + (2 * c) * 32, _mm256_set1_epi16(sc[2 * c])));
            isum = _mm256_add_epi32(isum, scaled_dot(hi, b[i].qs + (2 * c + 1) * 32, _mm256_set1_epi16(sc[2 * c + 1])));
        }
        int sm = 0;
        for (int j = 0; j < 8; ++j) sm += mn[j] * (b[i].bsums[2 * j] + b[i].bsums[2 * j + 1]);
        acc = _mm256_fmadd_ps(_mm256_set1_ps(b[i].d * h2f(a[i].d)), _mm256_cvtepi32_ps(isum), acc);
        summ += b[i].d * h2f(a[i].dmin) * (float)sm;
    }
    return hsum(acc) - summ;
}

float dot_q6_K_avx2(int64_t n, const void* w, const void* x) {
    const block_q6_K* a = (const block_q6_K*)w;
    const block_q8_K* b = (const block_q8_K*)x;
    const __m256i m4 = _mm256_set1_epi8(0x0f), m3 = _mm256_set1_epi8(3);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / QK_K; ++i) {
        const int8_t* sc = a[i].scales;
        __m256i isum = _mm256_setzero_si256();
        for (int h = 0; h < 2; ++h) {
            const __m256i ql0 = load32(a[i].ql + h * 64), ql1 = load32(a[i].ql + h * 64 + 32);
            const __m256i qh = load32(a[i].qh + h * 32);
            const __m256i lo[4] = {_mm256_and_si256(ql0, m4), _mm256_and_si256(ql1, m4),
                                   _mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4),
                                   _mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4)};
            for (int s = 0; s < 4; ++s) {
                const int g = h * 8 + s * 2;
                const __m256i v = _mm256_or_si256(
                    lo[s], _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * s), m3), 4));
                isum = _mm256_add_epi32(isum, scaled_dot(v, b[i].qs + (h * 4 + s) * 32, scale_pair(sc[g], sc[g + 1])));
            }
        }
        // the stored values are q + 32
        int off = 0;
        for (int g = 0; g < 16; ++g) off += sc[g] * b[i].bsums[g];
        isum = _mm256_sub_epi32(isum, _mm256_setr_epi32(32 * off, 0, 0, 0, 0, 0, 0, 0));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(b[i].d * h2f(a[i].d)), _mm256_cvtepi32_ps(isum), acc);
    }
    return hsum(acc);
}

// ------------------------------------------------- activation quantizers ---

namespace {
// round half away from zero, exactly like roundf / gguf-py's np_roundf
inline __m256 round_away(__m256 v) {
    const __m256 sign = _mm256_and_ps(v, _mm256_set1_ps(-0.0f));
    const __m256 a = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v);
    const __m256 t = _mm256_round_ps(a, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __m256 up = _mm256_and_ps(_mm256_cmp_ps(_mm256_sub_ps(a, t), _mm256_set1_ps(0.5f), _CMP_GE_OQ),
                                    _mm256_set1_ps(1.0f));
    return _mm256_or_ps(_mm256_add_ps(t, up), sign);
}

// One 32-float block to 32 int8 with d = amax/127; returns d and the sum of q.
// GgmlCpu = false: gguf-py's rounding (id = 1/d, halves away from zero), for
// files. GgmlCpu = true: what llama.cpp's CPU backend does to activations
// (id = 127/amax, halves to even), so our activations carry the same bits.
template <bool GgmlCpu>
inline float quant_block32(const float* src, int8_t* qs, int* qsum) {
    __m256 v[4];
    __m256 amax = _mm256_setzero_ps();
    const __m256 absmask = _mm256_set1_ps(-0.0f);
    for (int k = 0; k < 4; ++k) {
        v[k] = _mm256_loadu_ps(src + 8 * k);
        amax = _mm256_max_ps(amax, _mm256_andnot_ps(absmask, v[k]));
    }
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    const float amax_s = _mm_cvtss_f32(m);
    const float d = amax_s / 127.0f;
    float id;
    if constexpr (GgmlCpu) id = amax_s != 0.0f ? 127.0f / amax_s : 0.0f;
    else id = d != 0.0f ? 1.0f / d : 0.0f;
    const __m256 vid = _mm256_set1_ps(id);
    __m256i qi[4];
    for (int k = 0; k < 4; ++k) {
        const __m256 x = _mm256_mul_ps(v[k], vid);
        qi[k] = _mm256_cvtps_epi32(GgmlCpu ? _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
                                           : round_away(x));
    }
    // pack 4 x 8 int32 -> 32 int8 in order (packs interleave the 128-bit lanes)
    __m256i p01 = _mm256_packs_epi32(qi[0], qi[1]);
    __m256i p23 = _mm256_packs_epi32(qi[2], qi[3]);
    if (qsum) {
        const __m256i s = _mm256_madd_epi16(_mm256_add_epi16(p01, p23), _mm256_set1_epi16(1));
        __m128i t = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
        t = _mm_hadd_epi32(t, t);
        t = _mm_hadd_epi32(t, t);
        *qsum = _mm_cvtsi128_si32(t);
    }
    __m256i p = _mm256_packs_epi16(p01, p23);
    p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256((__m256i*)qs, p);
    return d;
}
}  // namespace

void quant_q8_0_avx2(const float* src, void* dst, int64_t n) {
    block_q8_0* b = (block_q8_0*)dst;
    for (int64_t i = 0; i < n / QK8_0; ++i) b[i].d = fp32_to_fp16(quant_block32<false>(src + i * QK8_0, b[i].qs, nullptr));
}

void act_q8_0_avx2(const float* src, void* dst, int64_t n) {
    block_q8_0* b = (block_q8_0*)dst;
    for (int64_t i = 0; i < n / QK8_0; ++i) b[i].d = fp32_to_fp16(quant_block32<true>(src + i * QK8_0, b[i].qs, nullptr));
}

void act_q8_1_avx2(const float* src, void* dst, int64_t n) {
    block_q8_1* b = (block_q8_1*)dst;
    for (int64_t i = 0; i < n / QK8_1; ++i) {
        int sum = 0;
        const float d = quant_block32<true>(src + i * QK8_1, b[i].qs, &sum);
        b[i].d = fp32_to_fp16(d);
        b[i].s = fp32_to_fp16((float)sum * d);
    }
}

void quant_q8_1_avx2(const float* src, void* dst, int64_t n) {
    block_q8_1* b = (block_q8_1*)dst;
    for (int64_t i = 0; i < n / QK8_1; ++i) {
        int sum = 0;
        const float d = quant_block32<false>(src + i * QK8_1, b[i].qs, &sum);
        b[i].d = fp32_to_fp16(d);
        b[i].s = fp32_to_fp16((float)sum * d);
    }
}


// Prefill: 2 rows x 4 tokens, 8 accumulators plus operands fit the 16 ymm
// registers. Decode: one row at a time, so the weights (far beyond the caches
// for a whole model) stream in address order; several rows at once measured
// up to 2x slower there.
#define EG_GEMM(name, T)                                                                            \
    void name(int64_t n, const uint8_t* w, int64_t w_stride, int nr, const uint8_t* x,              \
              int64_t x_stride, int nc, float* out, int64_t out_stride) {                           \
        if (nc == 1)                                                                                \
            gemm_driver<T, 1, 1>(n, w, w_stride, nr, x, x_stride, nc, out, out_stride);             \
        else                                                                                        \
            gemm_driver<T, 2, 4>(n, w, w_stride, nr, x, x_stride, nc, out, out_stride);             \
    }
EG_GEMM(gemm_q4_0_avx2, Q4_0Tile)
EG_GEMM(gemm_q4_1_avx2, Q4_1Tile)
EG_GEMM(gemm_q5_0_avx2, Q5_0Tile)
EG_GEMM(gemm_q5_1_avx2, Q5_1Tile)
EG_GEMM(gemm_q8_0_avx2, Q8_0Tile)
EG_GEMM(gemm_mxfp4_avx2, MXFP4Tile)
#undef EG_GEMM

}  // namespace eg::quant
