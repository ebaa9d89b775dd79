// Portable dot products of i-quant and ternary weight rows with Q8_K (IQ4_NL:
// Q8_0) activations. Each block is decoded to small integers, summed against
// the activations exactly in int32 per scale group, and scaled once in
// float: the reference the SIMD versions are tested against, and the
// fallback on CPUs without them. Every block scale is rewritten as an integer
// times a power of two (e.g. IQ2_XXS's d * (0.5 + ls) / 4 = d * (2 ls + 1) / 8)
// so that no rounding happens before the block's float product.
#include <cstring>

#include "core/fp16.h"
#include "quant/iq_tables.h"
#include "quant/kernels_impl.h"

namespace eg::quant {

namespace {
inline float h2f(uint16_t h) { return fp16_to_fp32(h); }
inline uint32_t load_u32(const void* p) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
}
// sum over 8 values of grid entry * sign * x
inline int dot8(uint64_t entry, uint8_t signs, const int8_t* x) {
    int s = 0;
    for (int j = 0; j < 8; ++j) {
        const int v = (int8_t)(uint8_t)(entry >> (8 * j)) * x[j];
        s += (signs >> j) & 1 ? -v : v;
    }
    return s;
}
inline int dot4(uint32_t entry, int signs4, const int8_t* x) {
    int s = 0;
    for (int j = 0; j < 4; ++j) {
        const int v = (int8_t)(uint8_t)(entry >> (8 * j)) * x[j];
        s += (signs4 >> j) & 1 ? -v : v;
    }
    return s;
}
}  // namespace

float dot_iq4_nl_scalar(int64_t n, const void* w, const void* x) {
    const block_iq4_nl* a = (const block_iq4_nl*)w;
    const block_q8_0* b = (const block_q8_0*)x;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK4_NL; ++i) {
        int s = 0;
        for (int j = 0; j < 16; ++j) {
            s += kIq4nlValues[a[i].qs[j] & 0x0f] * b[i].qs[j];
            s += kIq4nlValues[a[i].qs[j] >> 4] * b[i].qs[j + 16];
        }
        sum += (float)s * (h2f(a[i].d) * h2f(b[i].d));
    }
    return sum;
}

float dot_iq4_xs_scalar(int64_t n, const void* w, const void* x) {
    const block_iq4_xs* a = (const block_iq4_xs*)w;
    const block_q8_K* b = (const block_q8_K*)x;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK_K; ++i) {
        int s = 0;
        for (int ib = 0; ib < 8; ++ib) {
            const uint8_t* q = a[i].qs + 16 * ib;
            const int8_t* xq = b[i].qs + 32 * ib;
            int g = 0;
            for (int j = 0; j < 16; ++j)
                g += kIq4nlValues[q[j] & 0x0f] * xq[j] + kIq4nlValues[q[j] >> 4] * xq[j + 16];
            s += iq4_xs_scale(a[i], ib) * g;
        }
        sum += (float)s * (h2f(a[i].d) * b[i].d);
    }
    return sum;
}

float dot_iq2_xxs_scalar(int64_t n, const void* w, const void* x) {
    const block_iq2_xxs* a = (const block_iq2_xxs*)w;
    const block_q8_K* b = (const block_q8_K*)x;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK_K; ++i) {
        int s = 0;
        for (int ib = 0; ib < 8; ++ib) {
            const uint32_t idx = load_u32(a[i].qs + 4 * ib), sg = load_u32(a[i].qs + 4 * ib + 2);
            int g = 0;
            for (int l = 0; l < 4; ++l)
                g += dot8(kIq2xxsGrid[(idx >> (8 * l)) & 0xff], kIqSigns[(sg >> (7 * l)) & 127],
                          b[i].qs + 32 * ib + 8 * l);
            s += (2 * (int)(sg >> 28) + 1) * g;
        }
        sum += (float)s * (h2f(a[i].d) * b[i].d * 0.125f);
    }
    return sum;
}

float dot_iq2_xs_scalar(int64_t n, const void* w, const void* x) {
    const block_iq2_xs* a = (const block_iq2_xs*)w;
    const block_q8_K* b = (const block_q8_K*)x;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK_K; ++i) {
        int s = 0;
        for (int g = 0; g < 32; ++g) {
            const int ls = (a[i].scales[g / 4] >> (4 * ((g / 2) % 2))) & 0x0f;
            s += (2 * ls + 1) * dot8(kIq2xsGrid[a[i].qs[g] & 511], kIqSigns[a[i].qs[g] >> 9], b[i].qs + 8 * g);
        }
        sum += (float)s * (h2f(a[i].d) * b[i].d * 0.125f);
    }
    return sum;
}

float dot_iq2_s_scalar(int64_t n, const void* w, const void* x) {
    const block_iq2_s* a = (const block_iq2_s*)w;
    const block_q8_K* b = (const block_q8_K*)x;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK_K; ++i) {
        const uint8_t* signs = a[i].qs + QK_K / 8;
        int s = 0;
        for (int g = 0; g < 32; ++g) {
            const int ls = (a[i].scales[g / 4] >> (4 * ((g / 2) % 2))) & 0x0f;
            const int idx = a[i].qs[g] | (((a[i].qh[g / 4] >> (2 * (g % 4))) & 3) << 8);
            s += (2 * ls + 1) * dot8(kIq2sGrid[idx], signs[g], b[i].qs + 8 * g);
        }
        sum += (float)s * (h2f(a[i].d) * b[i].d * 0.125f);
    }
    return sum;
}

float dot_iq3_xxs_scalar(int64_t n, const void* w, const void* x) {
    const block_iq3_xxs* a = (const block_iq3_xxs*)w;
    const block_q8_K* b = (const block_q8_K*)x;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK_K; ++i) {
        const uint8_t* sas = a[i].qs + QK_K / 4;
        int s = 0;
        for (int ib = 0; ib < 8; ++ib) {
            const uint32_t sg = load_u32(sas + 4 * ib);
            int g = 0;
            for (int l = 0; l < 4; ++l) {
                const uint8_t sign = kIqSigns[(sg >> (7 * l)) & 127];
                const int8_t* xq = b[i].qs + 32 * ib + 8 * l;
                g += dot4(kIq3xxsGrid[a[i].qs[8 * ib + 2 * l]], sign & 15, xq);
                g += dot4(kIq3xxsGrid[a[i].qs[8 * ib + 2 * l + 1]], sign >> 4, xq + 4);
            }
            s += (2 * (int)(sg >> 28) + 1) * g;
        }
        sum += (float)s * (h2f(a[i].d) * b[i].d * 0.25f);
    }
    return sum;
}

float dot_iq3_s_scalar(int64_t n, const void* w, const void* x) {
    const block_iq3_s* a = (const block_iq3_s*)w;
    const block_q8_K* b = (const block_q8_K*)x;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK_K; ++i) {
        int s = 0;
        for (int ib = 0; ib < 8; ++ib) {
            int g = 0;
            for (int k = 8 * ib; k < 8 * ib + 8; ++k) {
                const int idx = a[i].qs[k] | (((a[i].qh[k / 8] >> (k % 8)) & 1) << 8);
                g += dot4(kIq3sGrid[idx], (a[i].signs[k / 2] >> (4 * (k % 2))) & 15, b[i].qs + 4 * k);
            }
            s += (1 + 2 * ((a[i].scales[ib / 2] >> (4 * (ib % 2))) & 0x0f)) * g;
        }
        sum += (float)s * (h2f(a[i].d) * b[i].d);
    }
    return sum;
}

// IQ1: value = dl * (grid + delta), dl = d * (2s + 1), delta = +-1/8:
// 8 * value = dl * (8 grid +- 1), summed as integers, times d / 8.
float dot_iq1_s_scalar(int64_t n, const void* w, const void* x) {
    const block_iq1_s* a = (const block_iq1_s*)w;
    const block_q8_K* b = (const block_q8_K*)x;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK_K; ++i) {
        int s = 0;
        for (int ib = 0; ib < 8; ++ib) {
            const int qh = a[i].qh[ib];
            int g = 0;
            for (int l = 0; l < 4; ++l)
                g += 8 * dot8(kIq1sGrid[a[i].qs[4 * ib + l] | (((qh >> (3 * l)) & 7) << 8)], 0,
                              b[i].qs + 32 * ib + 8 * l);
            const int xs = b[i].bsums[2 * ib] + b[i].bsums[2 * ib + 1];
            g += qh & 0x8000 ? -xs : xs;
            s += (2 * ((qh >> 12) & 7) + 1) * g;
        }
        sum += (float)s * (h2f(a[i].d) * b[i].d * 0.125f);
    }
    return sum;
}

float dot_iq1_m_scalar(int64_t n, const void* w, const void* x) {
    const block_iq1_m* a = (const block_iq1_m*)w;
    const block_q8_K* b = (const block_q8_K*)x;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK_K; ++i) {
        uint16_t sc[4];
        std::memcpy(sc, a[i].scales, 8);
        int s = 0;
        for (int g = 0; g < 32; ++g) {
            const int s16 = g / 2;
            const int nib = (a[i].qh[g / 2] >> (4 * (g % 2))) & 0x0f;
            const int8_t* xq = b[i].qs + 8 * g;
            int xs = 0;
            for (int j = 0; j < 8; ++j) xs += xq[j];
            const int v = 8 * dot8(kIq1sGrid[a[i].qs[g] | ((nib & 7) << 8)], 0, xq) + (nib & 8 ? -xs : xs);
            s += (2 * ((sc[s16 / 4] >> (3 * (s16 % 4))) & 7) + 1) * v;
        }
        sum += (float)s * (h2f(iq1_m_d(a[i])) * b[i].d * 0.125f);
    }
    return sum;
}

float dot_tq1_0_scalar(int64_t n, const void* w, const void* x) {
    const block_tq1_0* a = (const block_tq1_0*)w;
    const block_q8_K* b = (const block_q8_K*)x;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK_K; ++i) {
        int8_t q[QK_K];
        tq1_0_values(a[i], q);
        int s = 0;
        for (int j = 0; j < QK_K; ++j) s += q[j] * b[i].qs[j];
        sum += (float)s * (h2f(a[i].d) * b[i].d);
    }
    return sum;
}

float dot_tq2_0_scalar(int64_t n, const void* w, const void* x) {
    const block_tq2_0* a = (const block_tq2_0*)w;
    const block_q8_K* b = (const block_q8_K*)x;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK_K; ++i) {
        int s = 0;
        for (int e = 0; e < QK_K; ++e)
            s += (((a[i].qs[(e / 128) * 32 + e % 32] >> (2 * ((e / 32) % 4))) & 3) - 1) * b[i].qs[e];
        sum += (float)s * (h2f(a[i].d) * b[i].d);
    }
    return sum;
}

}  // namespace eg::quant
