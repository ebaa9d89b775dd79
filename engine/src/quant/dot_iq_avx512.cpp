// AVX-512 VNNI kernels for the common i-quants: IQ4_XS, IQ3_S, IQ3_XXS,
// IQ2_XXS, IQ2_XS, IQ2_S, IQ1_S, IQ1_M, the ternary TQ1_0 and TQ2_0, the low-bit
// k-quants Q2_K and Q3_K, whose 256-value blocks decode the same way
// (against Q8_K activations), and IQ4_NL (against Q8_0). A weight block is
// decoded once into unsigned bytes u = w + off (grid lookups, signs applied
// through a mask) with its scales spread over vector lanes; each token then
// costs one vpdpbusd per 64 values, a scale multiply per 32-value group, and
// the offset taken back through Q8_K's bsums (Q8_0: a vpdpbusd with ones).
// Integer sums are exact; the float work is one fused multiply-add of the
// block's int32 lanes into float lanes per block, reduced once per row. The
// matmul tile and vec_dot run the same code, so they agree bit for bit.
//
// Compiled with AVX-512 F/BW/VL/DQ/VNNI flags (file name suffix) and called
// only when CPUID reports them. Everything is in an anonymous namespace or
// an out-of-line function: an inline definition shared with portable files
// could let the linker pick this file's AVX-512 copy for them.
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "quant/iq_tables.h"
#include "quant/kernels_impl.h"

#if !defined(__AVX512VNNI__) || !defined(__AVX512VL__)
#error "dot_iq_avx512.cpp must be built with -mavx512vnni -mavx512vl (see engine/CMakeLists.txt)"
#endif

#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // GCC 12's _mm512_undefined_* in its own headers

namespace eg::quant {
namespace {

inline float h2f(uint16_t h) { return _cvtsh_ss(h); }
inline uint32_t u32_at(const void* p) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
}
inline uint64_t u64_at(const void* p) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    return v;
}

// IQ4_NL's values plus 128: unsigned bytes 1..241 for vpdpbusd.
struct Iq4Unsigned {
    alignas(16) uint8_t v[16];
    constexpr Iq4Unsigned() : v() {
        for (int i = 0; i < 16; ++i) v[i] = (uint8_t)(kIq4nlValues[i] + 128);
    }
};
constexpr Iq4Unsigned kIq4U;

inline __m512i iq4_table() { return _mm512_broadcast_i32x4(_mm_load_si128((const __m128i*)kIq4U.v)); }

// A 256-value block decoded for any number of Q8_K rows: sum over the block
// of w * x = sum over 32-value groups g of s_g * (sum u * x - off * sum x).
struct KDecoded {
    __m512i u[4];    // the values, offset to unsigned, in element order
    __m512i sc[4];   // for u[c]: lanes 0-7 the scale of group 2c, 8-15 of 2c+1
    __m512i sc_off;  // lane j (16-value group j of Q8_K's bsums): off * s_{j/2}
    float d;         // the block's float factor
    // Q2_K only (Dec::kMins): w = d * s * u - dmin * m, m per 16 values
    __m512i mins;
    float dmin;
};

// Spreads 8 int32 group scales (s8) over the lanes KDecoded wants. All in
// registers: scalar stores read back as a vector would stall store
// forwarding on every block.
inline void set_scales(KDecoded& o, __m256i s8, int off) {
    const __m512i s = _mm512_castsi256_si512(s8);
    o.sc[0] = _mm512_permutexvar_epi32(_mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0), s);
    o.sc[1] = _mm512_permutexvar_epi32(_mm512_set_epi32(3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2), s);
    o.sc[2] = _mm512_permutexvar_epi32(_mm512_set_epi32(5, 5, 5, 5, 5, 5, 5, 5, 4, 4, 4, 4, 4, 4, 4, 4), s);
    o.sc[3] = _mm512_permutexvar_epi32(_mm512_set_epi32(7, 7, 7, 7, 7, 7, 7, 7, 6, 6, 6, 6, 6, 6, 6, 6), s);
    const __m512i dup = _mm512_set_epi32(7, 7, 6, 6, 5, 5, 4, 4, 3, 3, 2, 2, 1, 1, 0, 0);
    o.sc_off = _mm512_mullo_epi32(_mm512_permutexvar_epi32(dup, s), _mm512_set1_epi32(off));
}

// The 8 nibbles of a u32, low first, as int32 lanes.
inline __m256i nibbles8(uint32_t v) {
    return _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32((int)v), _mm256_set_epi32(28, 24, 20, 16, 12, 8, 4, 0)),
                            _mm256_set1_epi32(0x0f));
}

struct Iq4XsDec {
    using Block = block_iq4_xs;
    static void decode(const Block& b, KDecoded& o) {
        const __m512i tbl = iq4_table(), m4 = _mm512_set1_epi8(0x0f);
        const __m512i i0 = _mm512_set_epi64(11, 10, 3, 2, 9, 8, 1, 0);
        const __m512i i1 = _mm512_set_epi64(15, 14, 7, 6, 13, 12, 5, 4);
        for (int h = 0; h < 2; ++h) {
            // 4 groups of 32 values, 16 bytes each: one per 128-bit lane
            const __m512i q = _mm512_loadu_si512(b.qs + 64 * h);
            const __m512i lo = _mm512_shuffle_epi8(tbl, _mm512_and_si512(q, m4));
            const __m512i hi = _mm512_shuffle_epi8(tbl, _mm512_and_si512(_mm512_srli_epi16(q, 4), m4));
            o.u[2 * h] = _mm512_permutex2var_epi64(lo, i0, hi);
            o.u[2 * h + 1] = _mm512_permutex2var_epi64(lo, i1, hi);
        }
        // group ib: nibble ib of scales_l (4 bytes, low nibbles first) and bits
        // 2ib..2ib+1 of scales_h, minus 32
        const __m256i lo = nibbles8(u32_at(b.scales_l));
        const __m256i hi = _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32(b.scales_h),
                                                              _mm256_set_epi32(14, 12, 10, 8, 6, 4, 2, 0)),
                                            _mm256_set1_epi32(3));
        set_scales(o, _mm256_sub_epi32(_mm256_or_si256(lo, _mm256_slli_epi32(hi, 4)), _mm256_set1_epi32(32)), 128);
        o.d = h2f(b.d);
    }
};

struct Iq3SDec {
    using Block = block_iq3_s;
    static void decode(const Block& b, KDecoded& o) {
        const __m512i iota = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
        const __m512i one = _mm512_set1_epi32(1), zero = _mm512_setzero_si512(), off = _mm512_set1_epi8(16);
        for (int c = 0; c < 4; ++c) {
            // 16 grid indices of 4 values: a qs byte and a bit of qh each
            const int qh = b.qh[2 * c] | (b.qh[2 * c + 1] << 8);
            const __m512i hi = _mm512_slli_epi32(_mm512_and_si512(_mm512_srlv_epi32(_mm512_set1_epi32(qh), iota), one), 8);
            const __m512i idx = _mm512_or_si512(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i*)(b.qs + 16 * c))), hi);
            const __m512i g = _mm512_i32gather_epi32(idx, (const int*)kIq3sGrid, 4);
            const __mmask64 neg = _cvtu64_mask64(u64_at(b.signs + 8 * c));
            o.u[c] = _mm512_add_epi8(_mm512_mask_sub_epi8(g, neg, zero, g), off);
        }
        const __m256i ls = nibbles8(u32_at(b.scales));  // 1 + 2 ls
        set_scales(o, _mm256_add_epi32(_mm256_add_epi32(ls, ls), _mm256_set1_epi32(1)), 16);
        o.d = h2f(b.d);
    }
};

// The 4 sign bytes of an IQ2_XXS / IQ3_XXS sign word: each 7-bit field i
// becomes kIqSigns[i], which is i with an 8th bit that makes the count of
// set bits even (so the table is computed, not looked up).
inline uint32_t sign_bytes(uint32_t sg) {
    uint32_t v = _pdep_u32(sg, 0x7f7f7f7fu);
    uint32_t p = v ^ (v >> 4);
    p ^= p >> 2;
    p ^= p >> 1;
    return v | ((p & 0x01010101u) << 7);
}

// value = d * (0.5 + ls) / 4 * grid * sign = d/8 * (2 ls + 1) * grid * sign
struct Iq2XxsDec {
    using Block = block_iq2_xxs;
    static void decode(const Block& b, KDecoded& o) {
        const __m512i zero = _mm512_setzero_si512(), off = _mm512_set1_epi8(64);
        // per 32 values two u32: grid indices (bytes), then signs and scale
        for (int c = 0; c < 4; ++c) {
            const uint32_t i0 = u32_at(b.qs + 8 * c), i1 = u32_at(b.qs + 8 * c + 4);
            const __m512i g = _mm512_set_epi64(
                (long long)kIq2xxsGrid[i1 >> 24], (long long)kIq2xxsGrid[(i1 >> 16) & 0xff],
                (long long)kIq2xxsGrid[(i1 >> 8) & 0xff], (long long)kIq2xxsGrid[i1 & 0xff],
                (long long)kIq2xxsGrid[i0 >> 24], (long long)kIq2xxsGrid[(i0 >> 16) & 0xff],
                (long long)kIq2xxsGrid[(i0 >> 8) & 0xff], (long long)kIq2xxsGrid[i0 & 0xff]);
            const uint64_t signs = (uint64_t)sign_bytes(u32_at(b.qs + 8 * c + 2)) |
                                   ((uint64_t)sign_bytes(u32_at(b.qs + 8 * c + 6)) << 32);
            o.u[c] = _mm512_add_epi8(_mm512_mask_sub_epi8(g, _cvtu64_mask64(signs), zero, g), off);
        }
        // the scale words are the odd u32 of qs; their top 4 bits, 2 ls + 1
        const __m512i words = _mm512_loadu_si512(b.qs);
        const __m256i ls = _mm512_castsi512_si256(_mm512_permutexvar_epi32(
            _mm512_set_epi32(0, 0, 0, 0, 0, 0, 0, 0, 15, 13, 11, 9, 7, 5, 3, 1), _mm512_srli_epi32(words, 28)));
        set_scales(o, _mm256_add_epi32(_mm256_add_epi32(ls, ls), _mm256_set1_epi32(1)), 64);
        o.d = h2f(b.d) * 0.125f;
    }
};

// value = d * (0.5 + ls) / 2 * grid * sign = d/4 * (2 ls + 1) * grid * sign;
// 64 bytes of grid indices (4 values each), then 8 u32 sign/scale words.
struct Iq3XxsDec {
    using Block = block_iq3_xxs;
    static void decode(const Block& b, KDecoded& o) {
        const __m512i zero = _mm512_setzero_si512(), off = _mm512_set1_epi8(64);
        const uint8_t* words = b.qs + QK_K / 4;
        for (int c = 0; c < 4; ++c) {
            const __m512i idx = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i*)(b.qs + 16 * c)));
            const __m512i g = _mm512_i32gather_epi32(idx, (const int*)kIq3xxsGrid, 4);
            const uint64_t signs = (uint64_t)sign_bytes(u32_at(words + 8 * c)) |
                                   ((uint64_t)sign_bytes(u32_at(words + 8 * c + 4)) << 32);
            o.u[c] = _mm512_add_epi8(_mm512_mask_sub_epi8(g, _cvtu64_mask64(signs), zero, g), off);
        }
        const __m256i ls = _mm256_srli_epi32(_mm256_loadu_si256((const __m256i*)words), 28);
        set_scales(o, _mm256_add_epi32(_mm256_add_epi32(ls, ls), _mm256_set1_epi32(1)), 64);
        o.d = h2f(b.d) * 0.25f;
    }
};

// TQ2_0: 2-bit q (value q - 1): q itself is the unsigned byte (offset 1),
// every group's scale 1. Value c*128 + k*32 + j is bits 2k of qs[c*32 + j].
struct Tq2Dec {
    using Block = block_tq2_0;
    static void decode(const Block& b, KDecoded& o) {
        const __m256i m3 = _mm256_set1_epi8(3);
        for (int m = 0; m < 4; ++m) {
            const __m256i q = _mm256_loadu_si256((const __m256i*)(b.qs + 32 * (m / 2)));
            const int k = 2 * (m % 2);
            const __m256i lo = _mm256_and_si256(_mm256_srli_epi16(q, 2 * k), m3);
            const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 2 * k + 2), m3);
            o.u[m] = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
        }
        set_scales(o, _mm256_set1_epi32(1), 1);
        o.d = h2f(b.d);
    }
};

// TQ1_0: five ternary digits per byte. Digit k of byte q is
// ((u8)(q * 3^k) * 3) >> 8, computed in 16-bit lanes; it is the unsigned
// byte (value + 1, offset 1), every group's scale 1. Values 0..159 are
// digit v/32 of qs[v%32], 160..239 digit (v-160)/16 of qs[32 + v%16],
// 240..255 digit (v-240)/4 of qh[v%4].
inline __m256i tq1_digits(__m256i q, __m512i pow3) {
    const __m512i x = _mm512_and_si512(_mm512_mullo_epi16(_mm512_cvtepu8_epi16(q), pow3), _mm512_set1_epi16(0xff));
    return _mm512_cvtepi16_epi8(_mm512_srli_epi16(_mm512_mullo_epi16(x, _mm512_set1_epi16(3)), 8));
}

struct Tq1Dec {
    using Block = block_tq1_0;
    static void decode(const Block& b, KDecoded& o) {
        auto p = [](int k) { return (short)(k == 0 ? 1 : k == 1 ? 3 : k == 2 ? 9 : k == 3 ? 27 : 81); };
        // 32 lanes: the first 16 times 3^k0, the last 16 times 3^k1
        auto pw = [&](int k0, int k1) {
            return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set1_epi16(p(k0))), _mm256_set1_epi16(p(k1)), 1);
        };
        auto pair = [](__m256i lo, __m256i hi) { return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1); };
        const __m256i a = _mm256_loadu_si256((const __m256i*)b.qs);
        const __m128i q16 = _mm_loadu_si128((const __m128i*)(b.qs + 32));
        const __m256i bb = _mm256_set_m128i(q16, q16);
        const __m256i cc = _mm256_set_m128i(_mm_set1_epi32((int)u32_at(b.qh)), q16);
        // qh's lanes: value 240 + 4k + j is digit k of qh[j]
        const __m512i pqh = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set1_epi16(81)),
                                               _mm256_set_epi16(27, 27, 27, 27, 9, 9, 9, 9, 3, 3, 3, 3, 1, 1, 1, 1), 1);
        o.u[0] = pair(tq1_digits(a, pw(0, 0)), tq1_digits(a, pw(1, 1)));
        o.u[1] = pair(tq1_digits(a, pw(2, 2)), tq1_digits(a, pw(3, 3)));
        o.u[2] = pair(tq1_digits(a, pw(4, 4)), tq1_digits(bb, pw(0, 1)));
        o.u[3] = pair(tq1_digits(bb, pw(2, 3)), tq1_digits(cc, pqh));
        set_scales(o, _mm256_set1_epi32(1), 1);
        o.d = h2f(b.d);
    }
};

// The same for 16 scales, one per 16 values (IQ2_XS): lane l of u[c] covers
// values 64c + 4l.., so scale 4c + l/4.
inline void set_scales16(KDecoded& o, __m512i s16, int off) {
    for (int c = 0; c < 4; ++c) {
        const __m512i idx = _mm512_set_epi32(4 * c + 3, 4 * c + 3, 4 * c + 3, 4 * c + 3, 4 * c + 2, 4 * c + 2,
                                             4 * c + 2, 4 * c + 2, 4 * c + 1, 4 * c + 1, 4 * c + 1, 4 * c + 1, 4 * c,
                                             4 * c, 4 * c, 4 * c);
        o.sc[c] = _mm512_maskz_permutexvar_epi32((__mmask16)0xffff, idx, s16);  // (see Iq1MDec)
    }
    o.sc_off = _mm512_mullo_epi32(s16, _mm512_set1_epi32(off));
}

// 2 ls + 1 for the 16 nibbles (low first) of 8 scale bytes, as int32 lanes.
inline __m512i odd_scales16(const uint8_t* scales) {
    const __m128i v = _mm_loadl_epi64((const __m128i*)scales), m4 = _mm_set1_epi8(0x0f);
    const __m128i nib = _mm_unpacklo_epi8(_mm_and_si128(v, m4), _mm_and_si128(_mm_srli_epi16(v, 4), m4));
    const __m512i ls = _mm512_cvtepu8_epi32(nib);
    return _mm512_add_epi32(_mm512_add_epi32(ls, ls), _mm512_set1_epi32(1));
}

// IQ2_XS: per 8 values a u16 (9-bit grid index, 7-bit sign index), a 4-bit
// scale per 16: d * (0.5 + ls) / 4 = d/8 * (2 ls + 1).
struct Iq2XsDec {
    using Block = block_iq2_xs;
    static void decode(const Block& b, KDecoded& o) {
        const __m512i zero = _mm512_setzero_si512(), off = _mm512_set1_epi8(64);
        for (int c = 0; c < 4; ++c) {
            const uint16_t* q = b.qs + 8 * c;
            auto e = [&](int j) { return (long long)kIq2xsGrid[q[j] & 511]; };
            const __m512i g = _mm512_set_epi64(e(7), e(6), e(5), e(4), e(3), e(2), e(1), e(0));
            // the four 7-bit sign indices of 4 u16 are bits 9..15 of each
            const uint64_t s0 = sign_bytes((uint32_t)_pext_u64(u64_at(q), 0xfe00fe00fe00fe00ull));
            const uint64_t s1 = sign_bytes((uint32_t)_pext_u64(u64_at(q + 4), 0xfe00fe00fe00fe00ull));
            o.u[c] = _mm512_add_epi8(_mm512_mask_sub_epi8(g, _cvtu64_mask64(s0 | (s1 << 32)), zero, g), off);
        }
        set_scales16(o, odd_scales16(b.scales), 64);
        o.d = h2f(b.d) * 0.125f;
    }
};

// IQ2_S: per 8 values a 10-bit grid index (qs byte + 2 bits of qh) and a
// sign byte (qs + 32); scales as IQ2_XS.
struct Iq2SDec {
    using Block = block_iq2_s;
    static void decode(const Block& b, KDecoded& o) {
        const __m512i zero = _mm512_setzero_si512(), off = _mm512_set1_epi8(64);
        for (int c = 0; c < 4; ++c) {
            auto e = [&](int j) {
                const int g = 8 * c + j;
                return (long long)kIq2sGrid[b.qs[g] | (((b.qh[g / 4] >> (2 * (g % 4))) & 3) << 8)];
            };
            const __m512i g = _mm512_set_epi64(e(7), e(6), e(5), e(4), e(3), e(2), e(1), e(0));
            const __mmask64 neg = _cvtu64_mask64(u64_at(b.qs + QK_K / 8 + 8 * c));
            o.u[c] = _mm512_add_epi8(_mm512_mask_sub_epi8(g, neg, zero, g), off);
        }
        set_scales16(o, odd_scales16(b.scales), 64);
        o.d = h2f(b.d) * 0.125f;
    }
};

// IQ1_S: value = d (2s + 1) (grid + delta), grid -1/0/1, delta +-1/8 per 32
// values, so 8 value = d (2s + 1) (8 grid +- 1). Stored unsigned with offset
// 16: u = 8 (grid + 1) + 8 +- 1, in 7..25 (grid + 1 <= 2, so a 16-bit shift
// by 3 cannot carry into the next byte).
struct Iq1SDec {
    using Block = block_iq1_s;
    static void decode(const Block& b, KDecoded& o) {
        const __m512i one = _mm512_set1_epi8(1);
        for (int c = 0; c < 4; ++c) {
            auto e = [&](int j) {
                const int ib = 2 * c + j / 4, l = j % 4;
                return (long long)kIq1sGrid[b.qs[4 * ib + l] | (((b.qh[ib] >> (3 * l)) & 7) << 8)];
            };
            const __m512i g = _mm512_add_epi8(_mm512_set_epi64(e(7), e(6), e(5), e(4), e(3), e(2), e(1), e(0)), one);
            const char d0 = b.qh[2 * c] & 0x8000 ? 7 : 9, d1 = b.qh[2 * c + 1] & 0x8000 ? 7 : 9;
            const __m512i delta = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set1_epi8(d0)), _mm256_set1_epi8(d1), 1);
            o.u[c] = _mm512_add_epi8(_mm512_slli_epi16(g, 3), delta);
        }
        const __m256i qh = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i*)b.qh));
        const __m256i s = _mm256_and_si256(_mm256_srli_epi32(qh, 12), _mm256_set1_epi32(7));
        set_scales(o, _mm256_add_epi32(_mm256_add_epi32(s, s), _mm256_set1_epi32(1)), 16);
        o.d = h2f(b.d) * 0.125f;
    }
};

// IQ1_M: as IQ1_S with the delta sign and 3 index bits per 8 values in a qh
// nibble, a 3-bit scale per 16 values, and d spread over the scale words.
struct Iq1MDec {
    using Block = block_iq1_m;
    static void decode(const Block& b, KDecoded& o) {
        const __m512i one = _mm512_set1_epi8(1);
        for (int c = 0; c < 4; ++c) {
            auto nib = [&](int j) { return (b.qh[(8 * c + j) / 2] >> (4 * (j % 2))) & 0x0f; };
            auto e = [&](int j) { return (long long)kIq1sGrid[b.qs[8 * c + j] | ((nib(j) & 7) << 8)]; };
            auto dl = [&](int j) { return (long long)(nib(j) & 8 ? 0x0707070707070707ull : 0x0909090909090909ull); };
            const __m512i g = _mm512_add_epi8(_mm512_set_epi64(e(7), e(6), e(5), e(4), e(3), e(2), e(1), e(0)), one);
            const __m512i delta = _mm512_set_epi64(dl(7), dl(6), dl(5), dl(4), dl(3), dl(2), dl(1), dl(0));
            o.u[c] = _mm512_add_epi8(_mm512_slli_epi16(g, 3), delta);
        }
        // scale j: bits 3 (j % 4) of u16 word j / 4
        // (maskz forms with every lane set: the same instructions, and GCC 12
        // does not take their undefined pass-through for an uninitialised read)
        constexpr __mmask16 all = 0xffff;
        const __m512i words =
            _mm512_maskz_cvtepu16_epi32(all, _mm256_zextsi128_si256(_mm_loadl_epi64((const __m128i*)b.scales)));
        const __m512i spread = _mm512_maskz_permutexvar_epi32(
            all, _mm512_set_epi32(3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0), words);
        const __m512i sh = _mm512_set_epi32(9, 6, 3, 0, 9, 6, 3, 0, 9, 6, 3, 0, 9, 6, 3, 0);
        const __m512i s = _mm512_and_si512(_mm512_maskz_srlv_epi32(all, spread, sh), _mm512_set1_epi32(7));
        set_scales16(o, _mm512_add_epi32(_mm512_add_epi32(s, s), _mm512_set1_epi32(1)), 16);
        o.d = h2f(iq1_m_d(b)) * 0.125f;
    }
};

// The 2-bit fields of a Q2_K/Q3_K block's qs (as TQ2_0's): value
// 128h + 32s + l is bits 2s of qs[32h + l]; u[c] holds s = 2(c%2), 2(c%2)+1
// of half h = c/2. Shifting 16-bit lanes leaves each byte's own two bits at
// the bottom (the shift is at most 6).
inline __m512i k_low2(const uint8_t* qs, int c) {
    const __m256i q = _mm256_loadu_si256((const __m256i*)(qs + 32 * (c / 2)));
    const int s = 2 * (c % 2);
    const __m512i both = _mm512_inserti64x4(_mm512_castsi256_si512(q), q, 1);
    const __m512i sh = _mm512_inserti64x4(_mm512_set1_epi16((short)(2 * s)), _mm256_set1_epi16((short)(2 * s + 2)), 1);
    return _mm512_and_si512(_mm512_maskz_srlv_epi16((__mmask32)0xffffffff, both, sh), _mm512_set1_epi8(3));
}

// Q3_K: value = d * s_g * ((low2 | hbit << 2) - 4), the high bit of value
// 32j + l being bit j of hmask[l]; so u = low2 | hbit << 2 (0..7), off 4.
// Scale g (0..15, one per 16 values, 6 bits less 32): its low nibble is
// nibble g / 8 of scales[g % 8], its top two bits are bits 2(g / 4) of
// scales[8 + g % 4].
struct Q3KDec {
    using Block = block_q3_K;
    static constexpr bool kMins = false;
    static void decode(const Block& b, KDecoded& o) {
        const __m256i hm = _mm256_loadu_si256((const __m256i*)b.hmask);
        const __m512i hm2 = _mm512_inserti64x4(_mm512_castsi256_si512(hm), hm, 1);
        for (int c = 0; c < 4; ++c) {
            // bit 2c of hmask[l] for the low 32 values, bit 2c + 1 for the high
            const __m512i sh =
                _mm512_inserti64x4(_mm512_set1_epi16((short)(2 * c)), _mm256_set1_epi16((short)(2 * c + 1)), 1);
            const __m512i hb =
                _mm512_and_si512(_mm512_maskz_srlv_epi16((__mmask32)0xffffffff, hm2, sh), _mm512_set1_epi8(1));
            o.u[c] = _mm512_or_si512(k_low2(b.qs, c), _mm512_slli_epi16(hb, 2));
        }
        constexpr __mmask16 all = 0xffff;  // (maskz forms: see Iq1MDec)
        const __m128i lo8 = _mm_loadl_epi64((const __m128i*)b.scales);
        const __m512i lo = _mm512_and_si512(
            _mm512_maskz_srlv_epi32(all, _mm512_cvtepu8_epi32(_mm_unpacklo_epi64(lo8, lo8)),
                                    _mm512_set_epi32(4, 4, 4, 4, 4, 4, 4, 4, 0, 0, 0, 0, 0, 0, 0, 0)),
            _mm512_set1_epi32(0x0f));
        const __m512i hi = _mm512_and_si512(
            _mm512_maskz_srlv_epi32(all, _mm512_set1_epi32((int)u32_at(b.scales + 8)),
                                    _mm512_set_epi32(30, 22, 14, 6, 28, 20, 12, 4, 26, 18, 10, 2, 24, 16, 8, 0)),
            _mm512_set1_epi32(3));
        set_scales16(o, _mm512_sub_epi32(_mm512_or_si512(lo, _mm512_slli_epi32(hi, 4)), _mm512_set1_epi32(32)), 4);
        o.d = h2f(b.d);
    }
};

// Q2_K: value = d * s_g * q - dmin * m_g, q the 2-bit field (u = q, no
// offset); scales[g] holds s_g (low nibble) and m_g (high nibble).
struct Q2KDec {
    using Block = block_q2_K;
    static constexpr bool kMins = true;
    static void decode(const Block& b, KDecoded& o) {
        for (int c = 0; c < 4; ++c) o.u[c] = k_low2(b.qs, c);
        const __m512i sm = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i*)b.scales));
        set_scales16(o, _mm512_and_si512(sm, _mm512_set1_epi32(0x0f)), 0);
        o.mins = _mm512_srli_epi32(sm, 4);
        o.d = h2f(b.d);
        o.dmin = h2f(b.dmin);
    }
};

// acc += (sum over the block of w * x, in 16 int32 lanes) * d_w * d_x
// (less dmin_w * d_x * sum of m * bsums where the type has mins)
template <bool kMins = false>
inline __m512 k_block_dot(const KDecoded& w, const block_q8_K& x, __m512 acc) {
    __m512i s = _mm512_setzero_si512();
    for (int c = 0; c < 4; ++c) {
        const __m512i p = _mm512_dpbusd_epi32(_mm512_setzero_si512(), w.u[c], _mm512_loadu_si512(x.qs + 64 * c));
        s = _mm512_add_epi32(s, _mm512_mullo_epi32(p, w.sc[c]));
    }
    const __m512i bs = _mm512_cvtepi16_epi32(_mm256_loadu_si256((const __m256i*)x.bsums));
    if constexpr (kMins) {
        acc = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(_mm512_mullo_epi32(bs, w.mins)), _mm512_set1_ps(w.dmin * x.d), acc);
    } else {
        s = _mm512_sub_epi32(s, _mm512_mullo_epi32(bs, w.sc_off));
    }
    return _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_set1_ps(w.d * x.d), acc);
}

template <class Dec, class = void>
struct HasMins : std::false_type {};
template <class Dec>
struct HasMins<Dec, std::void_t<decltype(Dec::kMins)>> : std::bool_constant<Dec::kMins> {};

constexpr int kMaxTok = 64;     // tokens whose sums are held at once (the matmul's token block)
constexpr int kDecBlocks = 8;   // weight blocks decoded at once

template <class Dec>
void gemm_k(int64_t n, const uint8_t* w, int64_t w_stride, int nr, const uint8_t* x, int64_t x_stride, int nc,
            float* out, int64_t out_stride) {
    using Block = typename Dec::Block;
    const int64_t nb = n / QK_K;
    KDecoded dec[kDecBlocks];
    __m512 acc[kMaxTok];
    for (int r = 0; r < nr; ++r) {
        const Block* wb = (const Block*)(w + r * w_stride);
        if (nc == 1) {
            // decode: each block decoded and used at once, in registers; the
            // same operations per block as below, so the same bits
            const block_q8_K* xb = (const block_q8_K*)x;
            __m512 a = _mm512_setzero_ps();
            for (int64_t b = 0; b < nb; ++b) {
                KDecoded d;
                Dec::decode(wb[b], d);
                a = k_block_dot<HasMins<Dec>::value>(d, xb[b], a);
            }
            out[r] = _mm512_reduce_add_ps(a);
            continue;
        }
        for (int t0 = 0; t0 < nc; t0 += kMaxTok) {
            const int tn = std::min(kMaxTok, nc - t0);
            for (int t = 0; t < tn; ++t) acc[t] = _mm512_setzero_ps();
            for (int64_t b0 = 0; b0 < nb; b0 += kDecBlocks) {
                const int m = (int)std::min<int64_t>(kDecBlocks, nb - b0);
                for (int j = 0; j < m; ++j) Dec::decode(wb[b0 + j], dec[j]);
                for (int t = 0; t < tn; ++t) {
                    const block_q8_K* xb = (const block_q8_K*)(x + (t0 + t) * x_stride) + b0;
                    __m512 a = acc[t];
                    for (int j = 0; j < m; ++j) a = k_block_dot<HasMins<Dec>::value>(dec[j], xb[j], a);
                    acc[t] = a;
                }
            }
            for (int t = 0; t < tn; ++t) out[(t0 + t) * out_stride + r] = _mm512_reduce_add_ps(acc[t]);
        }
    }
}

// IQ4_NL: two 32-value blocks per vector, each with its own f16 d, against
// two Q8_0 blocks. sum w * x = sum u * x - 128 * sum x.
struct Nl2 {
    __m512i u;
    float d0, d1;
};

inline void decode_nl2(const block_iq4_nl* b, bool two, Nl2& o) {
    const __m128i tbl = _mm_load_si128((const __m128i*)kIq4U.v), m4 = _mm_set1_epi8(0x0f);
    auto half = [&](const block_iq4_nl& blk) {
        const __m128i q = _mm_loadu_si128((const __m128i*)blk.qs);
        return _mm256_set_m128i(_mm_shuffle_epi8(tbl, _mm_and_si128(_mm_srli_epi16(q, 4), m4)),
                                _mm_shuffle_epi8(tbl, _mm_and_si128(q, m4)));
    };
    o.u = _mm512_castsi256_si512(half(b[0]));
    o.d0 = h2f(b[0].d);
    o.d1 = 0.0f;
    if (two) {
        o.u = _mm512_inserti64x4(o.u, half(b[1]), 1);
        o.d1 = h2f(b[1].d);
    } else {
        o.u = _mm512_inserti64x4(o.u, _mm256_setzero_si256(), 1);
    }
}

inline __m512 nl2_dot(const Nl2& w, const block_q8_0* x, bool two, __m512 acc) {
    const __m256i x0 = _mm256_loadu_si256((const __m256i*)x[0].qs);
    const __m256i x1 = two ? _mm256_loadu_si256((const __m256i*)x[1].qs) : _mm256_setzero_si256();
    const __m512i xv = _mm512_inserti64x4(_mm512_castsi256_si512(x0), x1, 1);
    const __m512i p = _mm512_dpbusd_epi32(_mm512_setzero_si512(), w.u, xv);
    const __m512i xs = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8(1), xv);
    const __m512i s = _mm512_sub_epi32(p, _mm512_slli_epi32(xs, 7));
    const float s0 = w.d0 * h2f(x[0].d), s1 = two ? w.d1 * h2f(x[1].d) : 0.0f;
    const __m512 sc = _mm512_insertf32x8(_mm512_set1_ps(s0), _mm256_set1_ps(s1), 1);
    return _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), sc, acc);
}

void gemm_nl(int64_t n, const uint8_t* w, int64_t w_stride, int nr, const uint8_t* x, int64_t x_stride, int nc,
             float* out, int64_t out_stride) {
    const int64_t nb = n / QK4_NL;
    constexpr int kPairs = 16;
    Nl2 dec[kPairs];
    __m512 acc[kMaxTok];
    for (int r = 0; r < nr; ++r) {
        const block_iq4_nl* wb = (const block_iq4_nl*)(w + r * w_stride);
        for (int t0 = 0; t0 < nc; t0 += kMaxTok) {
            const int tn = std::min(kMaxTok, nc - t0);
            for (int t = 0; t < tn; ++t) acc[t] = _mm512_setzero_ps();
            for (int64_t b0 = 0; b0 < nb; b0 += 2 * kPairs) {
                const int64_t bend = std::min<int64_t>(nb, b0 + 2 * kPairs);
                int m = 0;
                for (int64_t b = b0; b < bend; b += 2) decode_nl2(wb + b, b + 1 < bend, dec[m++]);
                for (int t = 0; t < tn; ++t) {
                    const block_q8_0* xb = (const block_q8_0*)(x + (t0 + t) * x_stride);
                    __m512 a = acc[t];
                    for (int j = 0; j < m; ++j) {
                        const int64_t b = b0 + 2 * j;
                        a = nl2_dot(dec[j], xb + b, b + 1 < bend, a);
                    }
                    acc[t] = a;
                }
            }
            for (int t = 0; t < tn; ++t) out[(t0 + t) * out_stride + r] = _mm512_reduce_add_ps(acc[t]);
        }
    }
}

}  // namespace

void gemm_iq4_xs_avx512(int64_t n, const uint8_t* w, int64_t w_stride, int nr, const uint8_t* x, int64_t x_stride,
                        int nc, float* out, int64_t out_stride) {
    gemm_k<Iq4XsDec>(n, w, w_stride, nr, x, x_stride, nc, out, out_stride);
}
void gemm_iq3_s_avx512(int64_t n, const uint8_t* w, int64_t w_stride, int nr, const uint8_t* x, int64_t x_stride,
                       int nc, float* out, int64_t out_stride) {
    gemm_k<Iq3SDec>(n, w, w_stride, nr, x, x_stride, nc, out, out_stride);
}
void gemm_iq2_xxs_avx512(int64_t n, const uint8_t* w, int64_t w_stride, int nr, const uint8_t* x, int64_t x_stride,
                         int nc, float* out, int64_t out_stride) {
    gemm_k<Iq2XxsDec>(n, w, w_stride, nr, x, x_stride, nc, out, out_stride);
}
void gemm_iq3_xxs_avx512(int64_t n, const uint8_t* w, int64_t w_stride, int nr, const uint8_t* x, int64_t x_stride,
                         int nc, float* out, int64_t out_stride) {
    gemm_k<Iq3XxsDec>(n, w, w_stride, nr, x, x_stride, nc, out, out_stride);
}
void gemm_tq2_0_avx512(int64_t n, const uint8_t* w, int64_t w_stride, int nr, const uint8_t* x, int64_t x_stride,
                       int nc, float* out, int64_t out_stride) {
    gemm_k<Tq2Dec>(n, w, w_stride, nr, x, x_stride, nc, out, out_stride);
}
void gemm_iq2_xs_avx512(int64_t n, const uint8_t* w, int64_t w_stride, int nr, const uint8_t* x, int64_t x_stride,
                        int nc, float* out, int64_t out_stride) {
    gemm_k<Iq2XsDec>(n, w, w_stride, nr, x, x_stride, nc, out, out_stride);
}
void gemm_iq2_s_avx512(int64_t n, const uint8_t* w, int64_t w_stride, int nr, const uint8_t* x, int64_t x_stride,
                       int nc, float* out, int64_t out_stride) {
    gemm_k<Iq2SDec>(n, w, w_stride, nr, x, x_stride, nc, out, out_stride);
}
void gemm_iq1_s_avx512(int64_t n, const uint8_t* w, int64_t w_stride, int nr, const uint8_t* x, int64_t x_stride,
                       int nc, float* out, int64_t out_stride) {
    gemm_k<Iq1SDec>(n, w, w_stride, nr, x, x_stride, nc, out, out_stride);
}
void gemm_iq1_m_avx512(int64_t n, const uint8_t* w, int64_t w_stride, int nr, const uint8_t* x, int64_t x_stride,
                       int nc, float* out, int64_t out_stride) {
    gemm_k<Iq1MDec>(n, w, w_stride, nr, x, x_stride, nc, out, out_stride);
}
void gemm_tq1_0_avx512(int64_t n, const uint8_t* w, int64_t w_stride, int nr, const uint8_t* x, int64_t x_stride,
                       int nc, float* out, int64_t out_stride) {
    gemm_k<Tq1Dec>(n, w, w_stride, nr, x, x_stride, nc, out, out_stride);
}
void gemm_q2_K_avx512(int64_t n, const uint8_t* w, int64_t w_stride, int nr, const uint8_t* x, int64_t x_stride,
                      int nc, float* out, int64_t out_stride) {
    gemm_k<Q2KDec>(n, w, w_stride, nr, x, x_stride, nc, out, out_stride);
}
void gemm_q3_K_avx512(int64_t n, const uint8_t* w, int64_t w_stride, int nr, const uint8_t* x, int64_t x_stride,
                      int nc, float* out, int64_t out_stride) {
    gemm_k<Q3KDec>(n, w, w_stride, nr, x, x_stride, nc, out, out_stride);
}
void gemm_iq4_nl_avx512(int64_t n, const uint8_t* w, int64_t w_stride, int nr, const uint8_t* x, int64_t x_stride,
                        int nc, float* out, int64_t out_stride) {
    gemm_nl(n, w, w_stride, nr, x, x_stride, nc, out, out_stride);
}

// One row, one token: the tile's own code, so vec_dot and matmul agree.
#define EG_VEC_DOT(name, gemm)                                    \
    float name(int64_t n, const void* w, const void* x) {         \
        float r;                                                  \
        gemm(n, (const uint8_t*)w, 0, 1, (const uint8_t*)x, 0, 1, &r, 0); \
        return r;                                                 \
    }
EG_VEC_DOT(dot_iq4_xs_avx512, gemm_iq4_xs_avx512)
EG_VEC_DOT(dot_iq3_s_avx512, gemm_iq3_s_avx512)
EG_VEC_DOT(dot_iq2_xxs_avx512, gemm_iq2_xxs_avx512)
EG_VEC_DOT(dot_iq3_xxs_avx512, gemm_iq3_xxs_avx512)
EG_VEC_DOT(dot_tq2_0_avx512, gemm_tq2_0_avx512)
EG_VEC_DOT(dot_iq2_xs_avx512, gemm_iq2_xs_avx512)
EG_VEC_DOT(dot_iq2_s_avx512, gemm_iq2_s_avx512)
EG_VEC_DOT(dot_iq1_s_avx512, gemm_iq1_s_avx512)
EG_VEC_DOT(dot_iq1_m_avx512, gemm_iq1_m_avx512)
EG_VEC_DOT(dot_iq4_nl_avx512, gemm_iq4_nl_avx512)
EG_VEC_DOT(dot_q2_K_avx512, gemm_q2_K_avx512)
EG_VEC_DOT(dot_tq1_0_avx512, gemm_tq1_0_avx512)
EG_VEC_DOT(dot_q3_K_avx512, gemm_q3_K_avx512)
#undef EG_VEC_DOT

}  // namespace eg::quant
