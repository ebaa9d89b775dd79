// AVX2 dot products of the i-quants and TQ2_0 with Q8_K activations, and of
// IQ4_NL with Q8_0. Products go through maddubs (unsigned x signed bytes to
// int16 pairs), then madd to int32, exactly:
//  - IQ4_NL/IQ4_XS: a nibble picks its level with one byte shuffle; the sign
//    is moved onto the activations (|w| <= 127, |x| <= 127: a pair sums to at
//    most 2 * 127 * 127 = 32258, under maddubs' saturation).
//  - IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S: the grid entries are unsigned
//    bytes (<= 62) looked up with scalar loads (no gathers: they are slow on
//    many AVX2 chips), and each sign bit negates its activation (Q8_K's
//    values are in [-127, 127], so negation cannot overflow); the 7-bit
//    sign-pattern indices go through a compile-time table of byte masks
//    made from kIqSigns. The per-group scale, an odd integer 2 ls + 1
//    (<= 31), is the int16 multiplier of the madd.
//  - IQ1_S, IQ1_M: 8 * value / scale = 8 grid + delta (in -9..9, never 0)
//    as a signed byte, through maddubs(|w|, x with w's sign).
//  - TQ2_0: the 2-bit q as the unsigned byte, the offset -1 taken back
//    through Q8_K's bsums.
// Integer sums are exact within a block; each block's int32 lanes are
// scaled into float lanes with one fused multiply-add, reduced once a row.
// TQ1_0 uses the portable code on AVX2 machines. Compiled with -mavx2 -mfma
// -mf16c -mbmi2 (file name suffix); called only when CPUID reports them.
#include <immintrin.h>

#include <cstring>

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

inline uint32_t u32_at(const void* p) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
}

// 32 bits (bit j for byte j) as byte masks: 0xff where the bit is set.
inline __m256i bit_masks(uint32_t bits) {
    const __m256i spread = _mm256_shuffle_epi8(
        _mm256_set1_epi32((int)bits),
        _mm256_set_epi64x(0x0303030303030303ll, 0x0202020202020202ll, 0x0101010101010101ll, 0));
    const __m256i sel = _mm256_set1_epi64x((long long)0x8040201008040201ull);
    return _mm256_cmpeq_epi8(_mm256_and_si256(spread, sel), sel);
}

// The 32 activations at x, negated where a sign bit is set.
inline __m256i signed_x(const int8_t* x, uint32_t sign_bits) {
    const __m256i m = bit_masks(sign_bits);
    const __m256i xv = _mm256_loadu_si256((const __m256i*)x);
    return _mm256_sub_epi8(_mm256_xor_si256(xv, m), m);
}

// kIqSigns[i] as 8 byte masks (0xff where bit j is set), built at compile
// time: one load per 8 values instead of assembling and spreading bits.
struct SignMasks {
    uint64_t m[128];
    constexpr SignMasks() : m() {
        for (int i = 0; i < 128; ++i)
            for (int j = 0; j < 8; ++j)
                if ((kIqSigns[i] >> j) & 1) m[i] |= 0xffull << (8 * j);
    }
};
constexpr SignMasks kSignMasks;

// The 32 activations at x, negated by the sign patterns i0..i3 (8 values each).
inline __m256i signed_x4(const int8_t* x, unsigned i0, unsigned i1, unsigned i2, unsigned i3) {
    const __m256i m = _mm256_set_epi64x((long long)kSignMasks.m[i3], (long long)kSignMasks.m[i2],
                                        (long long)kSignMasks.m[i1], (long long)kSignMasks.m[i0]);
    const __m256i xv = _mm256_loadu_si256((const __m256i*)x);
    return _mm256_sub_epi8(_mm256_xor_si256(xv, m), m);
}
// The same for the 4 seven-bit sign-pattern indices in bits 0..27 of sg.
inline __m256i signed_x_word(const int8_t* x, uint32_t sg) {
    return signed_x4(x, sg & 127, (sg >> 7) & 127, (sg >> 14) & 127, (sg >> 21) & 127);
}

// 8 int32 partial sums of grid * sx over 32 values, each pair times the
// int16 scale of its lane (sc: one scale, or one per 16 values).
inline __m256i scaled_dot(__m256i grid, __m256i sx, __m256i sc) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(grid, sx), sc);
}

// Scales of 16 values each for the two halves of a 32-value group.
inline __m256i scales16(int lo, int hi) {
    return _mm256_set_m128i(_mm_set1_epi16((short)hi), _mm_set1_epi16((short)lo));
}

inline __m256i grid64(uint64_t a, uint64_t b, uint64_t c, uint64_t d) {
    return _mm256_set_epi64x((long long)d, (long long)c, (long long)b, (long long)a);
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

// A block's f16 d (IQ1_M spreads its d over the scale words).
template <class Block>
inline float block_d(const Block& b) { return h2f(b.d); }
inline float block_d(const block_iq1_m& b) { return h2f(iq1_m_d(b)); }

// The dot of 256-value blocks with Q8_K activations: group(block, x, ib)
// gives the int32 lane sums of 32-value group ib (x its activations), and a
// block's lanes are summed and taken by d_w * d_x * factor into float lanes.
template <class Block, class Group>
inline float blocks_dot(int64_t n, const void* w, const void* x, float factor, Group group) {
    const Block* a = (const Block*)w;
    const block_q8_K* b = (const block_q8_K*)x;
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / QK_K; ++i) {
        __m256i s = _mm256_setzero_si256();
        for (int ib = 0; ib < 8; ++ib) s = _mm256_add_epi32(s, group(a[i], b[i].qs + 32 * ib, ib));
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_set1_ps(block_d(a[i]) * b[i].d * factor), acc);
    }
    return hsum8(acc);
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
    const __m256i table = level_table();
    return blocks_dot<block_iq4_xs>(n, w, x, 1.0f, [&](const block_iq4_xs& a, const int8_t* xq, int ib) {
        const int ls = (((a.scales_l[ib / 2] >> (4 * (ib % 2))) & 0x0f) | (((a.scales_h >> (2 * ib)) & 3) << 4)) - 32;
        return _mm256_mullo_epi32(dot32(levels32(a.qs + 16 * ib, table), xq), _mm256_set1_epi32(ls));
    });
}

// value = d/8 * (2 ls + 1) * grid * sign; per 32 values two u32: 4 grid
// indices, then 4 sign indices and ls.
float dot_iq2_xxs_avx2(int64_t n, const void* w, const void* x) {
    return blocks_dot<block_iq2_xxs>(n, w, x, 0.125f, [](const block_iq2_xxs& a, const int8_t* xq, int ib) {
        const uint32_t idx = u32_at(a.qs + 4 * ib), sg = u32_at(a.qs + 4 * ib + 2);
        const __m256i g = grid64(kIq2xxsGrid[idx & 0xff], kIq2xxsGrid[(idx >> 8) & 0xff],
                                 kIq2xxsGrid[(idx >> 16) & 0xff], kIq2xxsGrid[idx >> 24]);
        return scaled_dot(g, signed_x_word(xq, sg), _mm256_set1_epi16((short)(2 * (sg >> 28) + 1)));
    });
}

// value = d/8 * (2 ls + 1) * grid * sign; per 8 values a u16 (9-bit grid
// index, 7-bit sign index), ls per 16 values.
float dot_iq2_xs_avx2(int64_t n, const void* w, const void* x) {
    return blocks_dot<block_iq2_xs>(n, w, x, 0.125f, [](const block_iq2_xs& a, const int8_t* xq, int ib) {
        const uint16_t* q = a.qs + 4 * ib;
        const __m256i g = grid64(kIq2xsGrid[q[0] & 511], kIq2xsGrid[q[1] & 511], kIq2xsGrid[q[2] & 511],
                                 kIq2xsGrid[q[3] & 511]);
        const __m256i sx = signed_x4(xq, q[0] >> 9, q[1] >> 9, q[2] >> 9, q[3] >> 9);
        const int sc = a.scales[ib];
        return scaled_dot(g, sx, scales16(2 * (sc & 0x0f) + 1, 2 * (sc >> 4) + 1));
    });
}

// value = d/8 * (2 ls + 1) * grid * sign; per 8 values a 10-bit grid index
// (qs byte, 2 bits of qh) and a sign byte (qs + 32), ls per 16 values.
float dot_iq2_s_avx2(int64_t n, const void* w, const void* x) {
    return blocks_dot<block_iq2_s>(n, w, x, 0.125f, [](const block_iq2_s& a, const int8_t* xq, int ib) {
        const uint8_t* qs = a.qs;
        const int qh = a.qh[ib];
        const __m256i g = grid64(kIq2sGrid[qs[4 * ib] | ((qh & 3) << 8)],
                                 kIq2sGrid[qs[4 * ib + 1] | ((qh & 0x0c) << 6)],
                                 kIq2sGrid[qs[4 * ib + 2] | ((qh & 0x30) << 4)],
                                 kIq2sGrid[qs[4 * ib + 3] | ((qh & 0xc0) << 2)]);
        const __m256i sx = signed_x(xq, u32_at(qs + QK_K / 8 + 4 * ib));
        const int sc = a.scales[ib];
        return scaled_dot(g, sx, scales16(2 * (sc & 0x0f) + 1, 2 * (sc >> 4) + 1));
    });
}

// value = d/4 * (2 ls + 1) * grid * sign; 64 bytes of grid indices (4 values
// each), then per 32 values a u32 of 4 sign indices and ls.
float dot_iq3_xxs_avx2(int64_t n, const void* w, const void* x) {
    return blocks_dot<block_iq3_xxs>(n, w, x, 0.25f, [](const block_iq3_xxs& a, const int8_t* xq, int ib) {
        const uint8_t* qi = a.qs + 8 * ib;
        const __m256i g = _mm256_set_epi32(
            (int)kIq3xxsGrid[qi[7]], (int)kIq3xxsGrid[qi[6]], (int)kIq3xxsGrid[qi[5]], (int)kIq3xxsGrid[qi[4]],
            (int)kIq3xxsGrid[qi[3]], (int)kIq3xxsGrid[qi[2]], (int)kIq3xxsGrid[qi[1]], (int)kIq3xxsGrid[qi[0]]);
        const uint32_t sg = u32_at(a.qs + QK_K / 4 + 4 * ib);
        return scaled_dot(g, signed_x_word(xq, sg), _mm256_set1_epi16((short)(2 * (sg >> 28) + 1)));
    });
}

// value = d * (1 + 2 ls) * grid * sign; per 4 values a 9-bit grid index (qs
// byte, a bit of qh), a sign bit per value, ls per 32 values.
float dot_iq3_s_avx2(int64_t n, const void* w, const void* x) {
    return blocks_dot<block_iq3_s>(n, w, x, 1.0f, [](const block_iq3_s& a, const int8_t* xq, int ib) {
        // the 8 nine-bit indices (qs byte, bit j of qh) made in one
        // vector and read back: fewer operations than 8 scalar shifts
        alignas(16) uint16_t idx[8];
        const __m128i sel = _mm_set1_epi64x((long long)0x8040201008040201ull);
        const __m128i hb = _mm_and_si128(_mm_cmpeq_epi8(_mm_and_si128(_mm_set1_epi8((char)a.qh[ib]), sel), sel),
                                         _mm_set1_epi8(1));
        _mm_store_si128((__m128i*)idx, _mm_unpacklo_epi8(_mm_loadl_epi64((const __m128i*)(a.qs + 8 * ib)), hb));
        auto e = [&](int j) { return (int)kIq3sGrid[idx[j]]; };
        const __m256i g = _mm256_set_epi32(e(7), e(6), e(5), e(4), e(3), e(2), e(1), e(0));
        const __m256i sx = signed_x(xq, u32_at(a.signs + 4 * ib));
        const int ls = (a.scales[ib / 2] >> (4 * (ib % 2))) & 0x0f;
        return scaled_dot(g, sx, _mm256_set1_epi16((short)(1 + 2 * ls)));
    });
}

namespace {

// IQ1: 8 * value = d (2s + 1) (8 grid + delta), grid -1/0/1, delta +-1.
// w8 = 8 grid + delta is built as 8 (grid + 1) + (delta - 8): grid + 1 is
// 0..2, so a 16-bit shift by 3 cannot carry into the next byte. w8 is never
// 0, so maddubs takes |w8| and x with w8's sign.
inline __m256i iq1_w8(__m256i grid, __m256i delta_minus8) {
    const __m256i u = _mm256_slli_epi16(_mm256_add_epi8(grid, _mm256_set1_epi8(1)), 3);
    return _mm256_add_epi8(u, delta_minus8);
}
inline __m256i iq1_dot(__m256i w8, const int8_t* x, __m256i sc) {
    const __m256i xv = _mm256_loadu_si256((const __m256i*)x);
    return scaled_dot(_mm256_abs_epi8(w8), _mm256_sign_epi8(xv, w8), sc);
}

}  // namespace

// IQ1_S: per 8 values an 11-bit grid index (qs byte, 3 bits of qh); per 32
// values a u16 qh with the index bits, a 3-bit scale and the delta sign.
float dot_iq1_s_avx2(int64_t n, const void* w, const void* x) {
    return blocks_dot<block_iq1_s>(n, w, x, 0.125f, [](const block_iq1_s& a, const int8_t* xq, int ib) {
        const int qh = a.qh[ib];
        const uint8_t* q = a.qs + 4 * ib;
        const __m256i g = grid64(kIq1sGrid[q[0] | ((qh & 7) << 8)], kIq1sGrid[q[1] | ((qh & 0x38) << 5)],
                                 kIq1sGrid[q[2] | ((qh & 0x1c0) << 2)], kIq1sGrid[q[3] | ((qh & 0xe00) >> 1)]);
        const __m256i w8 = iq1_w8(g, _mm256_set1_epi8(qh & 0x8000 ? -9 : -7));
        return iq1_dot(w8, xq, _mm256_set1_epi16((short)(2 * ((qh >> 12) & 7) + 1)));
    });
}

// IQ1_M: per 8 values a qh nibble (3 index bits, the delta sign), a 3-bit
// scale per 16 values, d spread over the scale words.
float dot_iq1_m_avx2(int64_t n, const void* w, const void* x) {
    return blocks_dot<block_iq1_m>(n, w, x, 0.125f, [](const block_iq1_m& a, const int8_t* xq, int ib) {
        uint64_t sc;
        std::memcpy(&sc, a.scales, 8);  // 16 scales of 3 bits in each u16's low 12 bits
        const uint8_t* q = a.qs + 4 * ib;
        const int h0 = a.qh[2 * ib], h1 = a.qh[2 * ib + 1];
        const __m256i g = grid64(kIq1sGrid[q[0] | ((h0 & 7) << 8)], kIq1sGrid[q[1] | ((h0 & 0x70) << 4)],
                                 kIq1sGrid[q[2] | ((h1 & 7) << 8)], kIq1sGrid[q[3] | ((h1 & 0x70) << 4)]);
        auto dl = [](int bit) { return bit ? (long long)0xf7f7f7f7f7f7f7f7ull : (long long)0xf9f9f9f9f9f9f9f9ull; };
        const __m256i delta = _mm256_set_epi64x(dl(h1 & 0x80), dl(h1 & 0x08), dl(h0 & 0x80), dl(h0 & 0x08));
        const int s0 = (int)(sc >> (16 * (ib / 2) + 6 * (ib % 2))) & 7;
        const int s1 = (int)(sc >> (16 * (ib / 2) + 6 * (ib % 2) + 3)) & 7;
        return iq1_dot(iq1_w8(g, delta), xq, scales16(2 * s0 + 1, 2 * s1 + 1));
    });
}

// TQ2_0: value q - 1, q 2 bits: sum (q - 1) x = sum q x - sum x (bsums).
// Value 128 c + 32 k + j is bits 2k of qs[32 c + j].
float dot_tq2_0_avx2(int64_t n, const void* w, const void* x) {
    const block_tq2_0* a = (const block_tq2_0*)w;
    const block_q8_K* b = (const block_q8_K*)x;
    const __m256i m3 = _mm256_set1_epi8(3), ones = _mm256_set1_epi16(1);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / QK_K; ++i) {
        __m256i p = _mm256_setzero_si256();  // int16 pairs: at most 8 * 2 * 3 * 127
        for (int c = 0; c < 2; ++c) {
            const __m256i q = _mm256_loadu_si256((const __m256i*)(a[i].qs + 32 * c));
            for (int k = 0; k < 4; ++k) {
                const __m256i v = _mm256_and_si256(_mm256_srli_epi16(q, 2 * k), m3);
                const __m256i xv = _mm256_loadu_si256((const __m256i*)(b[i].qs + 128 * c + 32 * k));
                p = _mm256_add_epi16(p, _mm256_maddubs_epi16(v, xv));
            }
        }
        const __m256i xs = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i*)b[i].bsums), ones);
        const __m256i s = _mm256_sub_epi32(_mm256_madd_epi16(p, ones), xs);
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_set1_ps(h2f(a[i].d) * b[i].d), acc);
    }
    return hsum8(acc);
}

}  // namespace eg::quant
