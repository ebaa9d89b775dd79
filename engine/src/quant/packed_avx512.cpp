// The kernels that read packed weights (packed.h): one integer GEMM for every
// packed type, decode (one token) included. Per group of 32 elements and
// panel of 16 rows, the type's decoder turns the record into 8 vectors of
// unsigned bytes (lane r = 4 elements of row r) and the rows' scales; then
// for each token 8 VNNI instructions (vpdpbusd, the token's 4 int8 values
// broadcast) give the 16 integer sums, converted and scaled once per group:
//   y[r] += d_x * s[r] * sum(u * q_x)  (+ m[r] * d_x * sum(q_x))
// The arithmetic of a (row, token) pair is the same whatever the tile, so a
// token gives the same bits in a batch of any size or alone.
//
// Compiled with AVX-512 F/BW/VL/DQ/VNNI (file name suffix); called only when
// the CPU has them (packed_avx2.cpp has the same for AVX2).
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "quant/packed.h"
#include "quant/packed_k4.h"
#include "quant/packed_layout.h"

#if !defined(__AVX512VNNI__) || !defined(__AVX512BW__)
#error "packed_avx512.cpp must be built with AVX-512 BW and VNNI (see engine/CMakeLists.txt)"
#endif

// GCC 12's intrinsic headers pass _mm512_undefined_*() as the unused source of
// masked builtins, which its own -Wmaybe-uninitialized then reports.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace eg::quant {
namespace {


inline __m512 load_f16x16(const uint8_t* p) { return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i*)p)); }
inline __m512 load_u8x16(const uint8_t* p) {
    return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i*)p)));
}
inline __m512 load_i8x16(const uint8_t* p) {
    return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i*)p)));
}

// One group of a panel, decoded: v[j] lane r = u of elements 4j..4j+3 of
// row r; s0 (s1: second half) the rows' scales, m0 their mins.
struct Group {
    __m512i v[8];
    __m512 s0, s1, m0;
};

template <GgmlType T>
struct Decoder {
    static constexpr const PackedLayout& L = *packed_layout(T);
    static constexpr bool kK = L.hdr_off >= 0;
    __m512 hd, hm;  // K-quants: the superblock's d and -dmin per row

    alignas(16) uint8_t sc[8][16], mn[8][16];  // Q4_K/Q5_K: the superblock's 6-bit scales and mins

    void header(const uint8_t* blk) {
        if constexpr (kK) {
            hd = load_f16x16(blk + L.hdr_off);
            if constexpr (L.m_bytes > 0) hm = load_f16x16(blk + L.hdr_off + 32);
        }
        if constexpr (L.k4_scales) k4_unpack(blk + L.s_off, sc, mn);
    }

    void group(const uint8_t* blk, int g, Group& G) const {
        const uint8_t* q = blk + g * L.q_bytes;
        if constexpr (L.bits == 8) {
            for (int j = 0; j < 8; ++j) G.v[j] = _mm512_loadu_si512(q + 64 * j);
        } else {
            const __m512i lo = _mm512_set1_epi8(0x0f);
            for (int j = 0; j < 4; ++j) {
                const __m512i p = _mm512_loadu_si512(q + 64 * j);
                G.v[j] = _mm512_and_si512(p, lo);
                G.v[j + 4] = _mm512_and_si512(_mm512_srli_epi16(p, 4), lo);
            }
        }
        if constexpr (L.e8m0) {
            const __m512i u = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i*)kMxfp4U));
            for (int j = 0; j < 8; ++j) G.v[j] = _mm512_shuffle_epi8(u, G.v[j]);
        }
        if constexpr (L.bits == 5) {
            const uint8_t* hb = blk + L.hb_off + g * L.hb_bytes;
            const __m512i b4 = _mm512_set1_epi8(0x10);
            for (int j = 0; j < 8; ++j) {
                uint64_t m;
                std::memcpy(&m, hb + 8 * j, 8);
                G.v[j] = _mm512_mask_add_epi8(G.v[j], _cvtu64_mask64(m), G.v[j], b4);
            }
        } else if constexpr (L.bits == 6) {
            const uint8_t* hb = blk + L.hb_off + g * L.hb_bytes;
            const __m512i h0 = _mm512_loadu_si512(hb), h1 = _mm512_loadu_si512(hb + 64);
            const __m512i b45 = _mm512_set1_epi8(0x30);
            for (int j = 0; j < 8; ++j) {
                const __m512i h = j < 4 ? h0 : h1;
                __m512i sh;
                switch (j % 4) {
                    case 0: sh = _mm512_slli_epi16(h, 4); break;
                    case 1: sh = _mm512_slli_epi16(h, 2); break;
                    case 2: sh = h; break;
                    default: sh = _mm512_srli_epi16(h, 2); break;
                }
                G.v[j] = _mm512_ternarylogic_epi32(G.v[j], sh, b45, 0xF8);  // v | (sh & 0x30)
            }
        }
        if constexpr (T == GgmlType::Q6_K) {
            G.s0 = _mm512_mul_ps(load_i8x16(blk + L.s_off + g * 32), hd);
            G.s1 = _mm512_mul_ps(load_i8x16(blk + L.s_off + g * 32 + 16), hd);
        } else if constexpr (L.k4_scales) {
            G.s0 = _mm512_mul_ps(load_u8x16(sc[g]), hd);
            G.m0 = _mm512_mul_ps(load_u8x16(mn[g]), hm);
        } else if constexpr (L.e8m0) {
            // 2^(e-128) from its bits: (e-1) << 23, or a subnormal below e = 2
            const __m512i e = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i*)(blk + L.s_off + g * 16)));
            const __m512i normal = _mm512_slli_epi32(_mm512_sub_epi32(e, _mm512_set1_epi32(1)), 23);
            const __m512i sub = _mm512_sllv_epi32(_mm512_set1_epi32(0x00200000), e);
            G.s0 = _mm512_castsi512_ps(_mm512_mask_blend_epi32(_mm512_cmplt_epu32_mask(e, _mm512_set1_epi32(2)), normal, sub));
        } else {
            G.s0 = load_f16x16(blk + L.s_off + g * 32);
            if constexpr (L.m_bytes > 0) G.m0 = load_f16x16(blk + L.m_off + g * 32);
        }
    }
};

inline __m512i bcast4(const int8_t* p) {
    int32_t v;
    std::memcpy(&v, p, 4);
    return _mm512_set1_epi32(v);
}

constexpr int kMaxTile = 8;  // tokens per tile

// C tokens x one panel over all of k.
template <GgmlType T, int C>
void tile(const uint8_t* panel, int64_t nblk, const uint8_t* act, int64_t act_stride, int64_t meta_off, float* y,
          int64_t y_stride, int nr) {
    constexpr const PackedLayout& L = *packed_layout(T);
    __m512 acc[C];
    for (int c = 0; c < C; ++c) acc[c] = _mm512_setzero_ps();
    Decoder<T> dec;
    Group G;
    for (int64_t b = 0; b < nblk; ++b) {
        const uint8_t* blk = panel + b * L.block_bytes;
        if constexpr (C == 1) {
            // Decode streams the weights from memory once: ask for the lines
            // ~2 KB ahead, so the loads in flight do not wait on the decoding.
            // (Past the panel it is the next panel of this thread, or nothing.)
            constexpr int kAhead = (2048 + L.block_bytes - 1) / L.block_bytes;
            for (int off = 0; off < L.block_bytes; off += 64)
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
                    __m512i ia = _mm512_set1_epi32(mt.ca), ib = _mm512_set1_epi32(mt.cb);
                    for (int j = 0; j < 4; ++j) ia = _mm512_dpbusd_epi32(ia, G.v[j], bcast4(xq + 4 * j));
                    for (int j = 4; j < 8; ++j) ib = _mm512_dpbusd_epi32(ib, G.v[j], bcast4(xq + 4 * j));
                    __m512 t = _mm512_mul_ps(_mm512_cvtepi32_ps(ia), G.s0);
                    t = _mm512_fmadd_ps(_mm512_cvtepi32_ps(ib), G.s1, t);
                    acc[c] = _mm512_fmadd_ps(t, _mm512_set1_ps(mt.d), acc[c]);
                } else {
                    __m512i ia = _mm512_set1_epi32(mt.ca), ib = _mm512_setzero_si512();
                    for (int j = 0; j < 4; ++j) ia = _mm512_dpbusd_epi32(ia, G.v[j], bcast4(xq + 4 * j));
                    for (int j = 4; j < 8; ++j) ib = _mm512_dpbusd_epi32(ib, G.v[j], bcast4(xq + 4 * j));
                    const __m512 t = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(ia, ib)), G.s0);
                    acc[c] = _mm512_fmadd_ps(t, _mm512_set1_ps(mt.d), acc[c]);
                    if constexpr (L.m_bytes > 0) acc[c] = _mm512_fmadd_ps(G.m0, _mm512_set1_ps(mt.dsum), acc[c]);
                }
            }
        }
    }
    const __mmask16 rows = (__mmask16)((1u << nr) - 1u);
    for (int c = 0; c < C; ++c) _mm512_mask_storeu_ps(y + c * y_stride, rows, acc[c]);
}

inline int32_t hsum_epi32(__m512i v) { return _mm512_reduce_add_epi32(v); }

}  // namespace
}  // namespace eg::quant

#include "quant/packed_driver.h"

namespace eg::quant {

void packed_quantize_act_avx512(const PackedLayout& L, const float* x, int64_t k, uint8_t* dst) {
    int8_t* q = (int8_t*)dst;
    PackedActMeta* meta = (PackedActMeta*)(dst + (k + 63) / 64 * 64);
    const __m512 absmask = _mm512_castsi512_ps(_mm512_set1_epi32(0x7fffffff));
    for (int64_t g = 0; g < k / 32; ++g) {
        const __m512 a = _mm512_loadu_ps(x + 32 * g), b = _mm512_loadu_ps(x + 32 * g + 16);
        const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_and_ps(a, absmask), _mm512_and_ps(b, absmask)));
        const float d = amax / 127.0f, id = amax > 0.0f ? 127.0f / amax : 0.0f;
        const __m512 vid = _mm512_set1_ps(id);
        const __m512i qa = _mm512_cvtps_epi32(_mm512_mul_ps(a, vid));  // round to nearest even
        const __m512i qb = _mm512_cvtps_epi32(_mm512_mul_ps(b, vid));
        _mm_storeu_si128((__m128i*)(q + 32 * g), _mm512_cvtsepi32_epi8(qa));
        _mm_storeu_si128((__m128i*)(q + 32 * g + 16), _mm512_cvtsepi32_epi8(qb));
        const int32_t xa = hsum_epi32(qa), xb = hsum_epi32(qb);
        fill_meta(L, meta[g], d, xa, xb);
    }
}

void packed_gemm_avx512(const PackedLayout& L, const uint8_t* panels, int64_t panel_bytes, int64_t k, int64_t n,
                        int64_t p0, int64_t p1, const uint8_t* act, int64_t act_stride, int64_t nc, float* y,
                        int64_t y_stride) {
    drive_gemm(L, panels, panel_bytes, k, n, p0, p1, act, act_stride, nc, y, y_stride);
}

}  // namespace eg::quant
