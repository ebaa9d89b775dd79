// The packed kernels (packed.h) for CPUs with AVX2 but no AVX-512: the same
// layout read 8 rows at a time (the lower, then the upper 32 bytes of each
// 64-byte vector of a panel), integer sums by maddubs + madd instead of
// VNNI, and the same float operations in the same order as the AVX-512
// kernels, so both give the same bits.
//
// maddubs adds two u8 x s8 products into s16 with saturation: u <= 63 keeps
// every pair below 2 * 63 * 127 = 16002. Q8_0's u = q + 128 would not, so its
// bytes are turned back into q and multiplied by sign (|q| <= 128: 32512).
//
// Compiled with AVX2/FMA/F16C (file name suffix); called only when the CPU
// has them.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "quant/packed.h"
#include "quant/packed_k4.h"
#include "quant/packed_layout.h"

namespace eg::quant {
namespace {

inline __m256 load_f16x8(const uint8_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)p)); }
inline __m256 load_8x8(const uint8_t* p, bool is_signed) {
    int64_t v;
    std::memcpy(&v, p, 8);
    const __m128i b = _mm_cvtsi64_si128(v);
    return _mm256_cvtepi32_ps(is_signed ? _mm256_cvtepi8_epi32(b) : _mm256_cvtepu8_epi32(b));
}
// 32 bits -> 32 bytes, 0xff where the bit is set (byte i <- bit i).
inline __m256i bits_to_bytes(uint32_t x) {
    const __m256i shuf = _mm256_setr_epi64x(0x0000000000000000, 0x0101010101010101, 0x0202020202020202,
                                            0x0303030303030303);
    const __m256i b = _mm256_shuffle_epi8(_mm256_set1_epi32((int)x), shuf);
    const __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ULL);
    return _mm256_cmpeq_epi8(_mm256_and_si256(b, bit), bit);
}

// One group of 8 rows (half h of a panel), decoded as in packed_avx512.cpp.
struct Group {
    __m256i v[8];
    __m256 s0, s1, m0;
};

template <GgmlType T>
struct Decoder {
    static constexpr const PackedLayout& L = *packed_layout(T);
    static constexpr bool kK = L.hdr_off >= 0;
    int h = 0;      // rows 8h .. 8h + 7
    __m256 hd, hm;  // K-quants: the superblock's d and -dmin per row

    alignas(16) uint8_t sc[8][16], mn[8][16];  // Q4_K/Q5_K: the superblock's 6-bit scales and mins

    void header(const uint8_t* blk) {
        if constexpr (kK) {
            hd = load_f16x8(blk + L.hdr_off + 16 * h);
            if constexpr (L.m_bytes > 0) hm = load_f16x8(blk + L.hdr_off + 32 + 16 * h);
        }
        if constexpr (L.k4_scales) k4_unpack(blk + L.s_off, sc, mn);
    }

    void group(const uint8_t* blk, int g, Group& G) const {
        const uint8_t* q = blk + g * L.q_bytes + 32 * h;
        if constexpr (L.bits == 8) {
            // back to signed q (the products take its sign, see above)
            for (int j = 0; j < 8; ++j)
                G.v[j] = _mm256_xor_si256(_mm256_loadu_si256((const __m256i*)(q + 64 * j)), _mm256_set1_epi8((char)0x80));
        } else {
            const __m256i lo = _mm256_set1_epi8(0x0f);
            for (int j = 0; j < 4; ++j) {
                const __m256i p = _mm256_loadu_si256((const __m256i*)(q + 64 * j));
                G.v[j] = _mm256_and_si256(p, lo);
                G.v[j + 4] = _mm256_and_si256(_mm256_srli_epi16(p, 4), lo);
            }
        }
        if constexpr (L.e8m0) {
            const __m256i u = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i*)kMxfp4U));
            for (int j = 0; j < 8; ++j) G.v[j] = _mm256_shuffle_epi8(u, G.v[j]);
        }
        if constexpr (L.bits == 5) {
            const uint8_t* hb = blk + L.hb_off + g * L.hb_bytes;
            const __m256i b4 = _mm256_set1_epi8(0x10);
            for (int j = 0; j < 8; ++j) {
                uint32_t m;
                std::memcpy(&m, hb + 8 * j + 4 * h, 4);
                G.v[j] = _mm256_or_si256(G.v[j], _mm256_and_si256(bits_to_bytes(m), b4));
            }
        } else if constexpr (L.bits == 6) {
            const uint8_t* hb = blk + L.hb_off + g * L.hb_bytes + 32 * h;
            const __m256i h0 = _mm256_loadu_si256((const __m256i*)hb), h1 = _mm256_loadu_si256((const __m256i*)(hb + 64));
            const __m256i b45 = _mm256_set1_epi8(0x30);
            for (int j = 0; j < 8; ++j) {
                const __m256i x = j < 4 ? h0 : h1;
                __m256i sh;
                switch (j % 4) {
                    case 0: sh = _mm256_slli_epi16(x, 4); break;
                    case 1: sh = _mm256_slli_epi16(x, 2); break;
                    case 2: sh = x; break;
                    default: sh = _mm256_srli_epi16(x, 2); break;
                }
                G.v[j] = _mm256_or_si256(G.v[j], _mm256_and_si256(sh, b45));
            }
        }
        if constexpr (T == GgmlType::Q6_K) {
            G.s0 = _mm256_mul_ps(load_8x8(blk + L.s_off + g * 32 + 8 * h, true), hd);
            G.s1 = _mm256_mul_ps(load_8x8(blk + L.s_off + g * 32 + 16 + 8 * h, true), hd);
        } else if constexpr (L.k4_scales) {
            G.s0 = _mm256_mul_ps(load_8x8(sc[g] + 8 * h, false), hd);
            G.m0 = _mm256_mul_ps(load_8x8(mn[g] + 8 * h, false), hm);
        } else if constexpr (L.e8m0) {
            // 2^(e-128) from its bits, as packed_avx512.cpp
            int64_t v;
            std::memcpy(&v, blk + L.s_off + g * 16 + 8 * h, 8);
            const __m256i e = _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(v));
            const __m256i normal = _mm256_slli_epi32(_mm256_sub_epi32(e, _mm256_set1_epi32(1)), 23);
            const __m256i sub = _mm256_sllv_epi32(_mm256_set1_epi32(0x00200000), e);
            G.s0 = _mm256_castsi256_ps(_mm256_blendv_epi8(normal, sub, _mm256_cmpgt_epi32(_mm256_set1_epi32(2), e)));
        } else {
            G.s0 = load_f16x8(blk + L.s_off + g * 32 + 16 * h);
            if constexpr (L.m_bytes > 0) G.m0 = load_f16x8(blk + L.m_off + g * 32 + 16 * h);
        }
    }
};

inline __m256i bcast4(const int8_t* p) {
    int32_t v;
    std::memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}

// 8 x s32: each the sum of 4 products of v's bytes with x's (see the top).
template <bool Signed>
inline __m256i dot4(__m256i v, __m256i x) {
    const __m256i ones = _mm256_set1_epi16(1);
    if constexpr (Signed) return _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_sign_epi8(v, v), _mm256_sign_epi8(x, v)), ones);
    else return _mm256_madd_epi16(_mm256_maddubs_epi16(v, x), ones);
}

constexpr int kMaxTile = 4;  // tokens per tile (16 ymm registers)

// C tokens x one panel over all of k, 8 rows at a time.
template <GgmlType T, int C>
void tile(const uint8_t* panel, int64_t nblk, const uint8_t* act, int64_t act_stride, int64_t meta_off, float* y,
          int64_t y_stride, int nr) {
    constexpr const PackedLayout& L = *packed_layout(T);
    constexpr bool kSigned = L.bits == 8;
    for (int h = 0; h < 2 && 8 * h < nr; ++h) {
        __m256 acc[C];
        for (int c = 0; c < C; ++c) acc[c] = _mm256_setzero_ps();
        Decoder<T> dec;
        dec.h = h;
        Group G;
        for (int64_t b = 0; b < nblk; ++b) {
            const uint8_t* blk = panel + b * L.block_bytes;
            if constexpr (C == 1) {
                constexpr int kAhead = (2048 + L.block_bytes - 1) / L.block_bytes;
                for (int off = 32 * h; off < L.block_bytes; off += 64)
                    _mm_prefetch((const char*)blk + kAhead * L.block_bytes + off, _MM_HINT_T0);
            }
            dec.header(blk);
            for (int g = 0; g < L.groups; ++g) {
                dec.group(blk, g, G);
                const int64_t gi = b * L.groups + g;
                for (int c = 0; c < C; ++c) {
                    const int8_t* xq = (const int8_t*)(act + c * act_stride) + gi * 32;
                    const PackedActMeta& mt = ((const PackedActMeta*)(act + c * act_stride + meta_off))[gi];
                    if constexpr (L.half) {
                        __m256i ia = _mm256_set1_epi32(mt.ca), ib = _mm256_set1_epi32(mt.cb);
                        for (int j = 0; j < 4; ++j) ia = _mm256_add_epi32(ia, dot4<kSigned>(G.v[j], bcast4(xq + 4 * j)));
                        for (int j = 4; j < 8; ++j) ib = _mm256_add_epi32(ib, dot4<kSigned>(G.v[j], bcast4(xq + 4 * j)));
                        __m256 t = _mm256_mul_ps(_mm256_cvtepi32_ps(ia), G.s0);
                        t = _mm256_fmadd_ps(_mm256_cvtepi32_ps(ib), G.s1, t);
                        acc[c] = _mm256_fmadd_ps(t, _mm256_set1_ps(mt.d), acc[c]);
                    } else {
                        // Q8_0's products are signed already: no offset to start from
                        __m256i i = kSigned ? _mm256_setzero_si256() : _mm256_set1_epi32(mt.ca);
                        for (int j = 0; j < 8; ++j) i = _mm256_add_epi32(i, dot4<kSigned>(G.v[j], bcast4(xq + 4 * j)));
                        const __m256 t = _mm256_mul_ps(_mm256_cvtepi32_ps(i), G.s0);
                        acc[c] = _mm256_fmadd_ps(t, _mm256_set1_ps(mt.d), acc[c]);
                        if constexpr (L.m_bytes > 0) acc[c] = _mm256_fmadd_ps(G.m0, _mm256_set1_ps(mt.dsum), acc[c]);
                    }
                }
            }
        }
        const int rows = std::min(8, nr - 8 * h);
        const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(rows), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        for (int c = 0; c < C; ++c) _mm256_maskstore_ps(y + c * y_stride + 8 * h, mask, acc[c]);
    }
}


inline int32_t hsum_epi32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

inline float hmax(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

}  // namespace
}  // namespace eg::quant

#include "quant/packed_driver.h"

namespace eg::quant {

void packed_quantize_act_avx2(const PackedLayout& L, const float* x, int64_t k, uint8_t* dst) {
    int8_t* q = (int8_t*)dst;
    PackedActMeta* meta = (PackedActMeta*)(dst + (k + 63) / 64 * 64);
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    for (int64_t g = 0; g < k / 32; ++g) {
        __m256 v[4];
        __m256 amax = _mm256_setzero_ps();
        for (int i = 0; i < 4; ++i) {
            v[i] = _mm256_loadu_ps(x + 32 * g + 8 * i);
            amax = _mm256_max_ps(amax, _mm256_and_ps(v[i], absmask));
        }
        const float am = hmax(amax);
        const float d = am / 127.0f, id = am > 0.0f ? 127.0f / am : 0.0f;
        __m256i qi[4];
        for (int i = 0; i < 4; ++i) qi[i] = _mm256_cvtps_epi32(_mm256_mul_ps(v[i], _mm256_set1_ps(id)));  // nearest even
        const int32_t xa = hsum_epi32(_mm256_add_epi32(qi[0], qi[1])), xb = hsum_epi32(_mm256_add_epi32(qi[2], qi[3]));
        // 4 x 8 int32 -> 32 int8 in order (the packs interleave the 128-bit lanes)
        __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(qi[0], qi[1]), _mm256_packs_epi32(qi[2], qi[3]));
        p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256((__m256i*)(q + 32 * g), p);
        fill_meta(L, meta[g], d, xa, xb);
    }
}

void packed_gemm_avx2(const PackedLayout& L, const uint8_t* panels, int64_t panel_bytes, int64_t k, int64_t n,
                      int64_t p0, int64_t p1, const uint8_t* act, int64_t act_stride, int64_t nc, float* y,
                      int64_t y_stride) {
    drive_gemm(L, panels, panel_bytes, k, n, p0, p1, act, act_stride, nc, y, y_stride);
}

}  // namespace eg::quant
