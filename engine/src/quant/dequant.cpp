// Dequantization of every supported block type to float, with exactly the
// arithmetic (order of operations, float32 rounding) of ggml's reference code
// and gguf-py, so results are bit-identical. Used for embedding lookup, tests
// and any layer the engine computes in float.
//
// The expressions are kept in the same order as gguf-py on purpose (e.g.
// (d*sc)*q - dmin*m): reordering them changes the last bit. This file must not
// be built with FMA contraction (the engine builds with -std=c++20, where GCC
// does not contract).
#include <cstring>

#include "core/fp16.h"
#include "quant/kernels_impl.h"

namespace eg::quant {

namespace {
inline float h2f(uint16_t h) { return fp16_to_fp32(h); }
}  // namespace

void dequant_f32(const void* src, float* dst, int64_t n) { std::memcpy(dst, src, (size_t)n * 4); }

void dequant_f16(const void* src, float* dst, int64_t n) {
    const uint16_t* s = (const uint16_t*)src;
    for (int64_t i = 0; i < n; ++i) dst[i] = h2f(s[i]);
}

void dequant_bf16(const void* src, float* dst, int64_t n) {
    const uint16_t* s = (const uint16_t*)src;
    for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_fp32(s[i]);
}

void dequant_q4_0(const void* src, float* dst, int64_t n) {
    const block_q4_0* b = (const block_q4_0*)src;
    for (int64_t i = 0; i < n / QK4_0; ++i, ++b, dst += QK4_0) {
        const float d = h2f(b->d);
        for (int j = 0; j < 16; ++j) {
            dst[j] = d * (float)((b->qs[j] & 0x0f) - 8);
            dst[j + 16] = d * (float)((b->qs[j] >> 4) - 8);
        }
    }
}

void dequant_q4_1(const void* src, float* dst, int64_t n) {
    const block_q4_1* b = (const block_q4_1*)src;
    for (int64_t i = 0; i < n / QK4_1; ++i, ++b, dst += QK4_1) {
        const float d = h2f(b->d), m = h2f(b->m);
        for (int j = 0; j < 16; ++j) {
            dst[j] = d * (float)(b->qs[j] & 0x0f) + m;
            dst[j + 16] = d * (float)(b->qs[j] >> 4) + m;
        }
    }
}

void dequant_q5_0(const void* src, float* dst, int64_t n) {
    const block_q5_0* b = (const block_q5_0*)src;
    for (int64_t i = 0; i < n / QK5_0; ++i, ++b, dst += QK5_0) {
        const float d = h2f(b->d);
        uint32_t qh;
        std::memcpy(&qh, b->qh, 4);
        for (int j = 0; j < 16; ++j) {
            const int lo = (b->qs[j] & 0x0f) | (int)(((qh >> j) & 1u) << 4);
            const int hi = (b->qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1u) << 4);
            dst[j] = d * (float)(lo - 16);
            dst[j + 16] = d * (float)(hi - 16);
        }
    }
}

void dequant_q5_1(const void* src, float* dst, int64_t n) {
    const block_q5_1* b = (const block_q5_1*)src;
    for (int64_t i = 0; i < n / QK5_1; ++i, ++b, dst += QK5_1) {
        const float d = h2f(b->d), m = h2f(b->m);
        uint32_t qh;
        std::memcpy(&qh, b->qh, 4);
        for (int j = 0; j < 16; ++j) {
            const int lo = (b->qs[j] & 0x0f) | (int)(((qh >> j) & 1u) << 4);
            const int hi = (b->qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1u) << 4);
            dst[j] = d * (float)lo + m;
            dst[j + 16] = d * (float)hi + m;
        }
    }
}

void dequant_q8_0(const void* src, float* dst, int64_t n) {
    const block_q8_0* b = (const block_q8_0*)src;
    for (int64_t i = 0; i < n / QK8_0; ++i, ++b, dst += QK8_0) {
        const float d = h2f(b->d);
        for (int j = 0; j < QK8_0; ++j) dst[j] = (float)b->qs[j] * d;
    }
}

void dequant_q8_1(const void* src, float* dst, int64_t n) {
    const block_q8_1* b = (const block_q8_1*)src;
    for (int64_t i = 0; i < n / QK8_1; ++i, ++b, dst += QK8_1) {
        const float d = h2f(b->d);
        for (int j = 0; j < QK8_1; ++j) dst[j] = (float)b->qs[j] * d;
    }
}

void dequant_q8_K(const void* src, float* dst, int64_t n) {
    const block_q8_K* b = (const block_q8_K*)src;
    for (int64_t i = 0; i < n / QK_K; ++i, ++b, dst += QK_K) {
        for (int j = 0; j < QK_K; ++j) dst[j] = b->d * (float)b->qs[j];
    }
}

// 256 elements = 16 groups of 16; group g has scale byte scales[g] (low nibble
// scale, high nibble min). Element e = h*128 + s*32 + l holds 2 bits at shift 2s
// of qs[h*32 + l].
void dequant_q2_K(const void* src, float* dst, int64_t n) {
    const block_q2_K* b = (const block_q2_K*)src;
    for (int64_t i = 0; i < n / QK_K; ++i, ++b, dst += QK_K) {
        const float d = h2f(b->d), dmin = h2f(b->dmin);
        for (int e = 0; e < QK_K; ++e) {
            const int h = e / 128, s = (e / 32) % 4, l = e % 32, g = e / 16;
            const float dl = d * (float)(b->scales[g] & 0x0f);
            const float ml = dmin * (float)(b->scales[g] >> 4);
            const int q = (b->qs[h * 32 + l] >> (2 * s)) & 3;
            dst[e] = dl * (float)q - ml;
        }
    }
}

// The 16 six-bit scales of a Q3_K block, already offset by -32.
void q3_K_scales(const uint8_t* sc, int8_t out[16]) {
    for (int g = 0; g < 16; ++g) {
        const int lo = g < 8 ? (sc[g] & 0x0f) : (sc[g - 8] >> 4);
        const int hi = (sc[8 + g % 4] >> (2 * (g / 4))) & 3;
        out[g] = (int8_t)((lo | (hi << 4)) - 32);
    }
}

// Element e = h*128 + s*32 + l: 2 low bits at shift 2s of qs[h*32 + l]; its
// high bit is bit e/32 of hmask[l], and a clear bit means "subtract 4".
void dequant_q3_K(const void* src, float* dst, int64_t n) {
    const block_q3_K* b = (const block_q3_K*)src;
    for (int64_t i = 0; i < n / QK_K; ++i, ++b, dst += QK_K) {
        const float d = h2f(b->d);
        int8_t sc[16];
        q3_K_scales(b->scales, sc);
        for (int e = 0; e < QK_K; ++e) {
            const int h = e / 128, s = (e / 32) % 4, l = e % 32;
            const int ql = (b->qs[h * 32 + l] >> (2 * s)) & 3;
            const int hb = (b->hmask[l] >> (e / 32)) & 1;
            const float dl = d * (float)sc[e / 16];
            dst[e] = dl * (float)(ql - ((hb ^ 1) << 2));
        }
    }
}

// Scale and min (6 bits each) of sub-block j (0..7) of a Q4_K/Q5_K block.
void k4_scale_min(int j, const uint8_t* q, uint8_t* sc, uint8_t* m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (uint8_t)((q[j + 4] & 0x0f) | ((q[j - 4] >> 6) << 4));
        *m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

// Element e = c*64 + s*32 + l: nibble s of qs[c*32 + l]; sub-block e/32.
void dequant_q4_K(const void* src, float* dst, int64_t n) {
    const block_q4_K* b = (const block_q4_K*)src;
    for (int64_t i = 0; i < n / QK_K; ++i, ++b, dst += QK_K) {
        const float d = h2f(b->d), dmin = h2f(b->dmin);
        for (int j = 0; j < 8; ++j) {
            uint8_t sc, m;
            k4_scale_min(j, b->scales, &sc, &m);
            const float dl = d * (float)sc, ml = dmin * (float)m;
            const int c = j / 2, s = j % 2;
            for (int l = 0; l < 32; ++l) {
                const int q = (b->qs[c * 32 + l] >> (4 * s)) & 0x0f;
                dst[j * 32 + l] = dl * (float)q - ml;
            }
        }
    }
}

// As Q4_K, plus a fifth bit: bit j of qh[l] for element j*32 + l.
void dequant_q5_K(const void* src, float* dst, int64_t n) {
    const block_q5_K* b = (const block_q5_K*)src;
    for (int64_t i = 0; i < n / QK_K; ++i, ++b, dst += QK_K) {
        const float d = h2f(b->d), dmin = h2f(b->dmin);
        for (int j = 0; j < 8; ++j) {
            uint8_t sc, m;
            k4_scale_min(j, b->scales, &sc, &m);
            const float dl = d * (float)sc, ml = dmin * (float)m;
            const int c = j / 2, s = j % 2;
            for (int l = 0; l < 32; ++l) {
                const int q = ((b->qs[c * 32 + l] >> (4 * s)) & 0x0f) | (((b->qh[l] >> j) & 1) << 4);
                dst[j * 32 + l] = dl * (float)q - ml;
            }
        }
    }
}

// Element e = h*128 + s*32 + l (s = 0..3): low nibble of ql[h*64 + l] (s=0),
// of ql[h*64 + 32 + l] (s=1), high nibbles of the same (s=2,3); the 2 high bits
// are at shift 2s of qh[h*32 + l]. Scale per 16 elements.
void dequant_q6_K(const void* src, float* dst, int64_t n) {
    const block_q6_K* b = (const block_q6_K*)src;
    for (int64_t i = 0; i < n / QK_K; ++i, ++b, dst += QK_K) {
        const float d = h2f(b->d);
        for (int e = 0; e < QK_K; ++e) {
            const int h = e / 128, s = (e / 32) % 4, l = e % 32;
            const uint8_t qlb = b->ql[h * 64 + (s & 1) * 32 + l];
            const int lo = s < 2 ? (qlb & 0x0f) : (qlb >> 4);
            const int hi = (b->qh[h * 32 + l] >> (2 * s)) & 3;
            const float dl = d * (float)b->scales[e / 16];
            dst[e] = dl * (float)((lo | (hi << 4)) - 32);
        }
    }
}

// gguf-py: e8m0_to_fp32_half(e) * kvalues[nibble], one float32 product
// (exact: a power of two times a small integer). The integer table gives +0
// for the -0 code, as gguf-py's does.
void dequant_mxfp4(const void* src, float* dst, int64_t n) {
    const block_mxfp4* b = (const block_mxfp4*)src;
    for (int64_t i = 0; i < n / QK_MXFP4; ++i, ++b, dst += QK_MXFP4) {
        const float d = mxfp4_scale(b->e);
        for (int j = 0; j < 16; ++j) {
            dst[j] = d * (float)kMxfp4Values[b->qs[j] & 0x0f];
            dst[j + 16] = d * (float)kMxfp4Values[b->qs[j] >> 4];
        }
    }
}

}  // namespace eg::quant
