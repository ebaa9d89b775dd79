// AVX2 dot products of IQ4_NL (x Q8_0) and IQ4_XS (x Q8_K): a nibble picks
// its level with one byte shuffle; products through maddubs with the sign
// moved onto the activations (|w| <= 127 and |x| <= 127: a pair sums to at
// most 2 * 127 * 127 = 32258, under maddubs' saturation), then madd to int32.
// The other i-quants use the portable code on AVX2 machines. Compiled with
// -mavx2 -mfma -mf16c (file name suffix); called only when CPUID reports them.
#include <immintrin.h>

#include "quant/iq_tables.h"
#include "quant/kernels_impl.h"

namespace eg::quant {
namespace {

inline float h2f(uint16_t h) { return _cvtsh_ss(h); }

inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// 32 levels of 16 packed nibbles (low nibbles first, then high ones).
inline __m256i levels32(const uint8_t* qs, __m256i table) {
    const __m128i q = _mm_loadu_si128((const __m128i*)qs);
    const __m128i m4 = _mm_set1_epi8(0x0f);
    const __m256i idx = _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(q, 4), m4), _mm_and_si128(q, m4));
    return _mm256_shuffle_epi8(table, idx);
}

// 8 int32 partial sums of w * x over 32 values.
inline __m256i dot32(__m256i w, const int8_t* x) {
    const __m256i xv = _mm256_loadu_si256((const __m256i*)x);
    const __m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(xv, w));
    return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
}

inline __m256i level_table() {
    return _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i*)kIq4nlValues));
}

}  // namespace

float dot_iq4_nl_avx2(int64_t n, const void* w, const void* x) {
    const block_iq4_nl* a = (const block_iq4_nl*)w;
    const block_q8_0* b = (const block_q8_0*)x;
    const __m256i table = level_table();
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / QK4_NL; ++i) {
        const __m256i s = dot32(levels32(a[i].qs, table), b[i].qs);
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_set1_ps(h2f(a[i].d) * h2f(b[i].d)), acc);
    }
    return hsum8(acc);
}

float dot_iq4_xs_avx2(int64_t n, const void* w, const void* x) {
    const block_iq4_xs* a = (const block_iq4_xs*)w;
    const block_q8_K* b = (const block_q8_K*)x;
    const __m256i table = level_table();
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / QK_K; ++i) {
        __m256i s = _mm256_setzero_si256();
        for (int ib = 0; ib < 8; ++ib) {
            const int ls = (((a[i].scales_l[ib / 2] >> (4 * (ib % 2))) & 0x0f) | (((a[i].scales_h >> (2 * ib)) & 3) << 4)) - 32;
            const __m256i g = dot32(levels32(a[i].qs + 16 * ib, table), b[i].qs + 32 * ib);
            s = _mm256_add_epi32(s, _mm256_mullo_epi32(g, _mm256_set1_epi32(ls)));
        }
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_set1_ps(h2f(a[i].d) * b[i].d), acc);
    }
    return hsum8(acc);
}

}  // namespace eg::quant
