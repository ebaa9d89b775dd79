// Dequantization of the i-quants (IQ1..IQ4) and the ternary types (TQ1_0,
// TQ2_0) with exactly gguf-py's float32 arithmetic, so results are
// bit-identical (see dequant.cpp for why the order of each expression is
// kept). The grids and sign patterns come from iq_tables.h.
#include <cstring>

#include "core/fp16.h"
#include "quant/iq_tables.h"
#include "quant/kernels_impl.h"

namespace eg::quant {

namespace {
inline float h2f(uint16_t h) { return fp16_to_fp32(h); }
inline int8_t grid8(uint64_t entry, int j) { return (int8_t)(uint8_t)(entry >> (8 * j)); }
inline int8_t grid4(uint32_t entry, int j) { return (int8_t)(uint8_t)(entry >> (8 * j)); }
inline uint32_t load_u32(const void* p) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
}
// 8 values of a grid entry, each times db and the sign bit of `signs`:
// gguf-py computes db * grid * sign (the sign multiply is exact).
inline void put8(float* dst, float db, uint64_t entry, uint8_t signs) {
    for (int j = 0; j < 8; ++j) {
        const float v = db * (float)grid8(entry, j);
        dst[j] = (signs >> j) & 1 ? -v : v;
    }
}
}  // namespace

void dequant_iq4_nl(const void* src, float* dst, int64_t n) {
    const block_iq4_nl* b = (const block_iq4_nl*)src;
    for (int64_t i = 0; i < n / QK4_NL; ++i, ++b, dst += QK4_NL) {
        const float d = h2f(b->d);
        for (int j = 0; j < 16; ++j) {
            dst[j] = d * (float)kIq4nlValues[b->qs[j] & 0x0f];
            dst[j + 16] = d * (float)kIq4nlValues[b->qs[j] >> 4];
        }
    }
}

// The 6-bit scale (offset 32) of 32-value group ib of an IQ4_XS block.
int iq4_xs_scale(const block_iq4_xs& b, int ib) {
    const int lo = (b.scales_l[ib / 2] >> (4 * (ib % 2))) & 0x0f;
    const int hi = (b.scales_h >> (2 * ib)) & 3;
    return (lo | (hi << 4)) - 32;
}

void dequant_iq4_xs(const void* src, float* dst, int64_t n) {
    const block_iq4_xs* b = (const block_iq4_xs*)src;
    for (int64_t i = 0; i < n / QK_K; ++i, ++b) {
        const float d = h2f(b->d);
        for (int ib = 0; ib < 8; ++ib, dst += 32) {
            const float dl = d * (float)iq4_xs_scale(*b, ib);
            const uint8_t* q = b->qs + 16 * ib;
            for (int j = 0; j < 16; ++j) {
                dst[j] = dl * (float)kIq4nlValues[q[j] & 0x0f];
                dst[j + 16] = dl * (float)kIq4nlValues[q[j] >> 4];
            }
        }
    }
}

void dequant_iq2_xxs(const void* src, float* dst, int64_t n) {
    const block_iq2_xxs* b = (const block_iq2_xxs*)src;
    for (int64_t i = 0; i < n / QK_K; ++i, ++b) {
        const float d = h2f(b->d);
        for (int ib = 0; ib < 8; ++ib) {
            const uint32_t idx = load_u32(b->qs + 4 * ib), sg = load_u32(b->qs + 4 * ib + 2);
            const float db = d * (0.5f + (float)(sg >> 28)) * 0.25f;
            for (int l = 0; l < 4; ++l, dst += 8)
                put8(dst, db, kIq2xxsGrid[(idx >> (8 * l)) & 0xff], kIqSigns[(sg >> (7 * l)) & 127]);
        }
    }
}

void dequant_iq2_xs(const void* src, float* dst, int64_t n) {
    const block_iq2_xs* b = (const block_iq2_xs*)src;
    for (int64_t i = 0; i < n / QK_K; ++i, ++b) {
        const float d = h2f(b->d);
        for (int g = 0; g < 32; ++g, dst += 8) {
            const int ls = (b->scales[g / 4] >> (4 * ((g / 2) % 2))) & 0x0f;
            const float db = d * (0.5f + (float)ls) * 0.25f;
            put8(dst, db, kIq2xsGrid[b->qs[g] & 511], kIqSigns[b->qs[g] >> 9]);
        }
    }
}

void dequant_iq2_s(const void* src, float* dst, int64_t n) {
    const block_iq2_s* b = (const block_iq2_s*)src;
    for (int64_t i = 0; i < n / QK_K; ++i, ++b) {
        const float d = h2f(b->d);
        const uint8_t* signs = b->qs + QK_K / 8;
        for (int g = 0; g < 32; ++g, dst += 8) {
            const int ls = (b->scales[g / 4] >> (4 * ((g / 2) % 2))) & 0x0f;
            const float db = d * (0.5f + (float)ls) * 0.25f;
            const int idx = b->qs[g] | (((b->qh[g / 4] >> (2 * (g % 4))) & 3) << 8);
            put8(dst, db, kIq2sGrid[idx], signs[g]);
        }
    }
}

void dequant_iq3_xxs(const void* src, float* dst, int64_t n) {
    const block_iq3_xxs* b = (const block_iq3_xxs*)src;
    for (int64_t i = 0; i < n / QK_K; ++i, ++b) {
        const float d = h2f(b->d);
        const uint8_t* sas = b->qs + QK_K / 4;
        for (int ib = 0; ib < 8; ++ib) {
            const uint32_t sg = load_u32(sas + 4 * ib);
            const float db = d * (0.5f + (float)(sg >> 28)) * 0.5f;
            for (int l = 0; l < 4; ++l) {
                const uint8_t s = kIqSigns[(sg >> (7 * l)) & 127];
                for (int h = 0; h < 2; ++h, dst += 4) {
                    const uint32_t e = kIq3xxsGrid[b->qs[8 * ib + 2 * l + h]];
                    for (int j = 0; j < 4; ++j) {
                        const float v = db * (float)grid4(e, j);
                        dst[j] = (s >> (4 * h + j)) & 1 ? -v : v;
                    }
                }
            }
        }
    }
}

void dequant_iq3_s(const void* src, float* dst, int64_t n) {
    const block_iq3_s* b = (const block_iq3_s*)src;
    for (int64_t i = 0; i < n / QK_K; ++i, ++b) {
        const float d = h2f(b->d);
        for (int ib = 0; ib < 8; ++ib) {
            const float db = d * (float)(1 + 2 * ((b->scales[ib / 2] >> (4 * (ib % 2))) & 0x0f));
            for (int g = 8 * ib; g < 8 * ib + 8; ++g, dst += 4) {
                const uint32_t e = kIq3sGrid[b->qs[g] | (((b->qh[g / 8] >> (g % 8)) & 1) << 8)];
                for (int j = 0; j < 4; ++j) {
                    const float v = db * (float)grid4(e, j);
                    const int k = 4 * g + j;
                    dst[j] = (b->signs[k / 8] >> (k % 8)) & 1 ? -v : v;
                }
            }
        }
    }
}

// value = dl * (grid + delta): gguf-py adds the delta first (exact, a small
// integer +- 1/8), then one float32 product.
void dequant_iq1_s(const void* src, float* dst, int64_t n) {
    const block_iq1_s* b = (const block_iq1_s*)src;
    for (int64_t i = 0; i < n / QK_K; ++i, ++b) {
        const float d = h2f(b->d);
        for (int ib = 0; ib < 8; ++ib) {
            const int qh = b->qh[ib];
            const float dl = d * (float)(2 * ((qh >> 12) & 7) + 1);
            const float delta = qh & 0x8000 ? -0.125f : 0.125f;
            for (int l = 0; l < 4; ++l, dst += 8) {
                const uint64_t e = kIq1sGrid[b->qs[4 * ib + l] | (((qh >> (3 * l)) & 7) << 8)];
                for (int j = 0; j < 8; ++j) dst[j] = dl * ((float)grid8(e, j) + delta);
            }
        }
    }
}

// IQ1_M's f16 d: the top nibble of each of its 4 u16 scale words.
uint16_t iq1_m_d(const block_iq1_m& b) {
    uint16_t sc[4];
    std::memcpy(sc, b.scales, 8);
    return (uint16_t)((sc[0] >> 12) | ((sc[1] >> 8) & 0x00f0) | ((sc[2] >> 4) & 0x0f00) | (sc[3] & 0xf000));
}

void dequant_iq1_m(const void* src, float* dst, int64_t n) {
    const block_iq1_m* b = (const block_iq1_m*)src;
    for (int64_t i = 0; i < n / QK_K; ++i, ++b) {
        const float d = h2f(iq1_m_d(*b));
        uint16_t sc[4];
        std::memcpy(sc, b->scales, 8);
        for (int g = 0; g < 32; ++g, dst += 8) {
            const int s16 = g / 2;  // one 3-bit scale per 16 values
            const int s = (sc[s16 / 4] >> (3 * (s16 % 4))) & 7;
            const float dl = d * (float)(2 * s + 1);
            const int nib = (b->qh[g / 2] >> (4 * (g % 2))) & 0x0f;
            const float delta = nib & 8 ? -0.125f : 0.125f;
            const uint64_t e = kIq1sGrid[b->qs[g] | ((nib & 7) << 8)];
            for (int j = 0; j < 8; ++j) dst[j] = dl * ((float)grid8(e, j) + delta);
        }
    }
}

// Ternary digit k (0..4) of byte q: q * 3^k keeps the k-th base-3 digit of
// the fraction q/256 in the top, read out with (x * 3) >> 8 (u8 products wrap,
// as gguf-py's do).
inline int tq1_digit(uint8_t q, int k) {
    static constexpr uint8_t kPow3[5] = {1, 3, 9, 27, 81};
    const uint8_t x = (uint8_t)(q * kPow3[k]);
    return ((x * 3) >> 8) - 1;
}

void tq1_0_values(const block_tq1_0& b, int8_t out[QK_K]) {
    int e = 0;
    for (int k = 0; k < 5; ++k)
        for (int j = 0; j < 32; ++j) out[e++] = (int8_t)tq1_digit(b.qs[j], k);
    for (int k = 0; k < 5; ++k)
        for (int j = 0; j < 16; ++j) out[e++] = (int8_t)tq1_digit(b.qs[32 + j], k);
    for (int k = 0; k < 4; ++k)
        for (int j = 0; j < 4; ++j) out[e++] = (int8_t)tq1_digit(b.qh[j], k);
}

void dequant_tq1_0(const void* src, float* dst, int64_t n) {
    const block_tq1_0* b = (const block_tq1_0*)src;
    for (int64_t i = 0; i < n / QK_K; ++i, ++b, dst += QK_K) {
        const float d = h2f(b->d);
        int8_t q[QK_K];
        tq1_0_values(*b, q);
        for (int j = 0; j < QK_K; ++j) dst[j] = d * (float)q[j];
    }
}

// Value c*128 + k*32 + j: bits 2k..2k+1 of qs[c*32 + j], minus 1.
void dequant_tq2_0(const void* src, float* dst, int64_t n) {
    const block_tq2_0* b = (const block_tq2_0*)src;
    for (int64_t i = 0; i < n / QK_K; ++i, ++b, dst += QK_K) {
        const float d = h2f(b->d);
        for (int e = 0; e < QK_K; ++e)
            dst[e] = d * (float)(((b->qs[(e / 128) * 32 + e % 32] >> (2 * ((e / 32) % 4))) & 3) - 1);
    }
}

}  // namespace eg::quant
