// x86 SIMD building blocks shared by dot_avx2.cpp and dot_avx512.cpp: block
// decoding, integer dot helpers and the tiled R x C micro-kernel for the
// 32-element block types. Everything is in an anonymous namespace on purpose:
// each including file is compiled for a different instruction set, and
// shared (inline) definitions would let the linker pick the AVX-512 copy for a
// CPU without it.
#pragma once

#include <immintrin.h>

#include <cstring>

#include "quant/types.h"

namespace eg::quant {
namespace {

// F16C conversion: exact like fp16_to_fp32, without its branches (one block
// scale per 32 weights makes this matter).
inline float h2f(uint16_t h) { return _cvtsh_ss(h); }

inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// 16 bytes of packed nibbles -> 32 bytes: low nibbles (elements 0..15) then
// high nibbles (elements 16..31), the Q4_0/Q4_1/Q5 element order.
inline __m256i nibbles(const uint8_t* qs) {
    const __m128i t = _mm_loadu_si128((const __m128i*)qs);
    const __m256i v = _mm256_set_m128i(_mm_srli_epi16(t, 4), t);
    return _mm256_and_si256(v, _mm256_set1_epi8(0x0f));
}

// 32 bits -> 32 bytes, 0xff where the bit is set (byte i <- bit i).
inline __m256i bits_to_bytes(const uint8_t* p) {
    uint32_t x;
    std::memcpy(&x, p, 4);
    const __m256i shuf = _mm256_setr_epi64x(0x0000000000000000, 0x0101010101010101,
                                            0x0202020202020202, 0x0303030303030303);
    const __m256i b = _mm256_shuffle_epi8(_mm256_set1_epi32((int)x), shuf);
    const __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ULL);
    return _mm256_cmpeq_epi8(_mm256_and_si256(b, bit), bit);
}

// unsigned bytes . signed bytes -> 8 x s32 (each the sum of 4 products).
// VNNI does it in one instruction, exactly (no s16 saturation).
inline __m256i dot_us(__m256i u, __m256i s) {
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
    return _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, s);
#else
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
#endif
}
// signed . signed: move a's sign onto b so maddubs sees |a|.
inline __m256i dot_ss(__m256i a, __m256i b) {
    return dot_us(_mm256_sign_epi8(a, a), _mm256_sign_epi8(b, a));
}
inline __m256i load32(const void* p) { return _mm256_loadu_si256((const __m256i*)p); }

// ------------------------------------------------------ tiled micro-kernel ---
// R weight rows x C tokens per step: each weight block is decoded once into
// registers and used for C tokens; each activation block is loaded once and
// used for R rows. The per-row arithmetic (order of every float operation) is
// the same for any R and C, so a 1x1 tile is the vec_dot and the matmul gives
// bit-identical results whatever tiling it picks.

// Block scales as [d, m, 0, 0] (weights) and [d, s, 0, 0] (activations): one
// vector multiply gives both d_w*d_x and the minimum's term m*s.
inline __m128 scales_d(const void* b) {  // a lone f16 d at the block start
    uint16_t d;
    std::memcpy(&d, b, 2);
    return _mm_cvtph_ps(_mm_cvtsi32_si128(d));
}
inline __m128 scales_dm(const void* b) {  // f16 d then f16 m (or s)
    int32_t dm;
    std::memcpy(&dm, b, 4);
    return _mm_cvtph_ps(_mm_cvtsi32_si128(dm));
}

struct Q4_0Tile {
    using WB = block_q4_0;
    using XB = block_q8_0;
    static constexpr bool has_min = false;
    static __m256i decode(const WB& b) { return _mm256_sub_epi8(nibbles(b.qs), _mm256_set1_epi8(8)); }
    static __m256i idot(__m256i w, const XB& x) { return dot_ss(w, load32(x.qs)); }
    static __m128 wsc(const WB& b) { return scales_d(&b); }
    static __m128 xsc(const XB& x) { return scales_d(&x); }
};
struct Q4_1Tile {
    using WB = block_q4_1;
    using XB = block_q8_1;
    static constexpr bool has_min = true;
    static __m256i decode(const WB& b) { return nibbles(b.qs); }
    static __m256i idot(__m256i w, const XB& x) { return dot_us(w, load32(x.qs)); }
    static __m128 wsc(const WB& b) { return scales_dm(&b); }
    static __m128 xsc(const XB& x) { return scales_dm(&x); }
};
struct Q5_0Tile {
    using WB = block_q5_0;
    using XB = block_q8_0;
    static constexpr bool has_min = false;
    // a clear fifth bit means value - 16: or-ing 0xf0 into the nibble makes
    // exactly that int8
    static __m256i decode(const WB& b) {
        return _mm256_or_si256(nibbles(b.qs), _mm256_andnot_si256(bits_to_bytes(b.qh), _mm256_set1_epi8((char)0xf0)));
    }
    static __m256i idot(__m256i w, const XB& x) { return dot_ss(w, load32(x.qs)); }
    static __m128 wsc(const WB& b) { return scales_d(&b); }
    static __m128 xsc(const XB& x) { return scales_d(&x); }
};
struct Q5_1Tile {
    using WB = block_q5_1;
    using XB = block_q8_1;
    static constexpr bool has_min = true;
    static __m256i decode(const WB& b) {
        return _mm256_or_si256(nibbles(b.qs), _mm256_and_si256(bits_to_bytes(b.qh), _mm256_set1_epi8(0x10)));
    }
    static __m256i idot(__m256i w, const XB& x) { return dot_us(w, load32(x.qs)); }
    static __m128 wsc(const WB& b) { return scales_dm(&b); }
    static __m128 xsc(const XB& x) { return scales_dm(&x); }
};
struct Q8_0Tile {
    using WB = block_q8_0;
    using XB = block_q8_0;
    static constexpr bool has_min = false;
    static __m256i decode(const WB& b) { return load32(b.qs); }
    static __m256i idot(__m256i w, const XB& x) { return dot_ss(w, load32(x.qs)); }
    static __m128 wsc(const WB& b) { return scales_d(&b); }
    static __m128 xsc(const XB& x) { return scales_d(&x); }
};

// MXFP4 (E2M1 nibbles, one E8M0 exponent): a byte shuffle turns each nibble
// into its E2M1 value doubled (an int8 in -12..12, kMxfp4Values), and the
// scale 2^(e-128) multiplies the doubled values; built from the exponent's
// bits (e = 0 and 1 give subnormal floats), as mxfp4_scale() in
// kernels_impl.h, which is not shared with this file (see the top).
struct MXFP4Tile {
    using WB = block_mxfp4;
    using XB = block_q8_0;
    static constexpr bool has_min = false;
    static __m256i decode(const WB& b) {
        const __m256i values = _mm256_setr_epi8(0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12,
                                                0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12);
        return _mm256_shuffle_epi8(values, nibbles(b.qs));
    }
    static __m256i idot(__m256i w, const XB& x) { return dot_ss(w, load32(x.qs)); }
    static __m128 wsc(const WB& b) {
        const uint32_t e = b.e;
        const uint32_t bits = e < 2 ? 0x00200000u << e : (e - 1) << 23;
        return _mm_castsi128_ps(_mm_cvtsi32_si128((int)bits));
    }
    static __m128 xsc(const XB& x) { return scales_d(&x); }
};

constexpr int kPrefetchBytes = 1024;

// A independent accumulator sets (block i goes to set i % A) would shorten
// the FMA latency chain of small tiles, but A must be the same for every tile
// size to keep the matmul bit-identical to vec_dot (prefill and decode give
// the same numbers for the same token); measured, A = 2 or 4 did not speed
// up decode, which streams weights from memory.
template <class T, int R, int C>
void tile(int64_t nb, const uint8_t* w, int64_t w_stride, const uint8_t* x, int64_t x_stride,
          float* out, int64_t out_stride) {
    constexpr int A = 1;
    __m256 acc[A][R][C];
    __m128 mins[A][R][C];  // lane 1 sums m*s (lane 0 is unused)
    for (int a = 0; a < A; ++a)
        for (int r = 0; r < R; ++r)
            for (int c = 0; c < C; ++c) { acc[a][r][c] = _mm256_setzero_ps(); mins[a][r][c] = _mm_setzero_ps(); }
    auto step = [&](int64_t i, __m256 (&ac)[R][C], __m128 (&mn)[R][C]) {
        __m256i wq[R];
        __m128 ws[R];
        for (int r = 0; r < R; ++r) {
            const typename T::WB& wb = ((const typename T::WB*)(w + r * w_stride))[i];
            // R > 1 rows are R short interleaved streams, which the hardware
            // prefetchers follow poorly: on matrices beyond the caches this
            // is worth ~1.7x. One row is a plain stream they handle best.
            if constexpr (R > 1) _mm_prefetch((const char*)&wb + kPrefetchBytes, _MM_HINT_T0);
            wq[r] = T::decode(wb);
            ws[r] = T::wsc(wb);
        }
        for (int c = 0; c < C; ++c) {
            const typename T::XB& xb = ((const typename T::XB*)(x + c * x_stride))[i];
            const __m128 xs = T::xsc(xb);
            for (int r = 0; r < R; ++r) {
                const __m128 d = _mm_mul_ps(ws[r], xs);  // [d_w*d_x, m_w*s_x]
                const __m256 p = _mm256_cvtepi32_ps(T::idot(wq[r], xb));
                ac[r][c] = _mm256_fmadd_ps(_mm256_broadcastss_ps(d), p, ac[r][c]);
                if constexpr (T::has_min) mn[r][c] = _mm_add_ps(mn[r][c], d);
            }
        }
    };
    int64_t i = 0;
    for (; i + A <= nb; i += A)
        for (int a = 0; a < A; ++a) step(i + a, acc[a], mins[a]);
    for (int a = 0; i < nb; ++i, ++a) step(i, acc[a], mins[a]);
    for (int r = 0; r < R; ++r)
        for (int c = 0; c < C; ++c) {
            __m256 s = acc[0][r][c];
            __m128 m = mins[0][r][c];
            for (int a = 1; a < A; ++a) {
                s = _mm256_add_ps(s, acc[a][r][c]);
                m = _mm_add_ps(m, mins[a][r][c]);
            }
            out[c * out_stride + r] = hsum(s) + _mm_cvtss_f32(_mm_movehdup_ps(m));
        }
}

// Tile of rr <= RM rows by cc <= CM tokens, sizes picked at compile time.
using tile_fn = void (*)(int64_t, const uint8_t*, int64_t, const uint8_t*, int64_t, float*, int64_t);
template <class T, int R, int C>
tile_fn pick_c(int cc) {
    if constexpr (C > 1) {
        if (cc < C) return pick_c<T, R, C - 1>(cc);
    }
    return tile<T, R, C>;
}
template <class T, int R, int C>
tile_fn pick_rc(int rr, int cc) {
    if constexpr (R > 1) {
        if (rr < R) return pick_rc<T, R - 1, C>(rr, cc);
    }
    return pick_c<T, R, C>(cc);
}

// Rows in steps of RM, tokens in steps of CM, with smaller tiles at the edges.
// out[c * out_stride + r] for r in [0, nr), c in [0, nc).
template <class T, int RM, int CM>
void gemm_driver(int64_t n, const uint8_t* w, int64_t w_stride, int nr, const uint8_t* x,
                 int64_t x_stride, int nc, float* out, int64_t out_stride) {
    const int64_t nb = n / 32;
    for (int r0 = 0; r0 < nr; r0 += RM) {
        const int rr = nr - r0 < RM ? nr - r0 : RM;
        for (int c0 = 0; c0 < nc; c0 += CM) {
            const int cc = nc - c0 < CM ? nc - c0 : CM;
            pick_rc<T, RM, CM>(rr, cc)(nb, w + r0 * w_stride, w_stride, x + c0 * x_stride, x_stride,
                                       out + c0 * out_stride + r0, out_stride);
        }
    }
}

template <class T>
float vec_dot_1x1(int64_t n, const void* w, const void* x) {
    float out;
    tile<T, 1, 1>(n / 32, (const uint8_t*)w, 0, (const uint8_t*)x, 0, &out, 0);
    return out;
}

}  // namespace
}  // namespace eg::quant
