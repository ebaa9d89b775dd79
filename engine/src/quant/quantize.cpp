// Quantization from float: the reference quantizers for Q4_0/Q4_1/Q5_0/Q5_1/
// Q8_0/MXFP4 (the same float32 arithmetic as gguf-py's gguf.quants, so files
// this engine writes match files Python tools write byte for byte), simple
// quantizers for Q2_K..Q6_K (own algorithm: gguf-py has none, and llama.cpp's
// iterative search is not needed to make test models), and the activation
// formats Q8_1 and Q8_K used only as the right-hand side of dot products.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/fp16.h"
#include "quant/kernels_impl.h"

namespace eg::quant {

void quant_f32(const float* src, void* dst, int64_t n) { std::memcpy(dst, src, (size_t)n * 4); }

void quant_f16(const float* src, void* dst, int64_t n) {
    uint16_t* d = (uint16_t*)dst;
    for (int64_t i = 0; i < n; ++i) d[i] = fp32_to_fp16(src[i]);
}

void quant_bf16(const float* src, void* dst, int64_t n) {
    uint16_t* d = (uint16_t*)dst;
    for (int64_t i = 0; i < n; ++i) d[i] = fp32_to_bf16(src[i]);
}

namespace {
// gguf-py picks the value of largest magnitude (first one on ties) and keeps its sign.
float signed_absmax(const float* x, int n) {
    float amax = 0.0f, vmax = 0.0f;
    for (int j = 0; j < n; ++j) {
        if (std::fabs(x[j]) > amax) { amax = std::fabs(x[j]); vmax = x[j]; }
    }
    return vmax;
}
// gguf-py: (trunc(v) as uint8).clip(0, hi); v is never below 0 here.
inline uint8_t trunc_clip(float v, int hi) {
    const float t = std::trunc(v);
    return (uint8_t)(t > (float)hi ? hi : (t < 0.0f ? 0 : (int)t));
}
}  // namespace

void quant_q4_0(const float* src, void* dst, int64_t n) {
    block_q4_0* b = (block_q4_0*)dst;
    for (int64_t i = 0; i < n / QK4_0; ++i, ++b, src += QK4_0) {
        const float d = signed_absmax(src, QK4_0) / -8.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        b->d = fp32_to_fp16(d);
        for (int j = 0; j < 16; ++j) {
            const uint8_t lo = trunc_clip(src[j] * id + 8.5f, 15);
            const uint8_t hi = trunc_clip(src[j + 16] * id + 8.5f, 15);
            b->qs[j] = (uint8_t)(lo | (hi << 4));
        }
    }
}

void quant_q4_1(const float* src, void* dst, int64_t n) {
    block_q4_1* b = (block_q4_1*)dst;
    for (int64_t i = 0; i < n / QK4_1; ++i, ++b, src += QK4_1) {
        float mn = src[0], mx = src[0];
        for (int j = 1; j < QK4_1; ++j) { mn = std::fmin(mn, src[j]); mx = std::fmax(mx, src[j]); }
        const float d = (mx - mn) / 15.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        b->d = fp32_to_fp16(d);
        b->m = fp32_to_fp16(mn);
        for (int j = 0; j < 16; ++j) {
            const uint8_t lo = trunc_clip((src[j] - mn) * id + 0.5f, 15);
            const uint8_t hi = trunc_clip((src[j + 16] - mn) * id + 0.5f, 15);
            b->qs[j] = (uint8_t)(lo | (hi << 4));
        }
    }
}

void quant_q5_0(const float* src, void* dst, int64_t n) {
    block_q5_0* b = (block_q5_0*)dst;
    for (int64_t i = 0; i < n / QK5_0; ++i, ++b, src += QK5_0) {
        const float d = signed_absmax(src, QK5_0) / -16.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        b->d = fp32_to_fp16(d);
        uint32_t qh = 0;
        for (int j = 0; j < 16; ++j) {
            const uint8_t lo = trunc_clip(src[j] * id + 16.5f, 31);
            const uint8_t hi = trunc_clip(src[j + 16] * id + 16.5f, 31);
            b->qs[j] = (uint8_t)((lo & 0x0f) | (hi << 4));
            qh |= (uint32_t)(lo >> 4) << j;
            qh |= (uint32_t)(hi >> 4) << (j + 16);
        }
        std::memcpy(b->qh, &qh, 4);
    }
}

void quant_q5_1(const float* src, void* dst, int64_t n) {
    block_q5_1* b = (block_q5_1*)dst;
    for (int64_t i = 0; i < n / QK5_1; ++i, ++b, src += QK5_1) {
        float mn = src[0], mx = src[0];
        for (int j = 1; j < QK5_1; ++j) { mn = std::fmin(mn, src[j]); mx = std::fmax(mx, src[j]); }
        const float d = (mx - mn) / 31.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        b->d = fp32_to_fp16(d);
        b->m = fp32_to_fp16(mn);
        uint32_t qh = 0;
        for (int j = 0; j < 16; ++j) {
            const uint8_t lo = trunc_clip((src[j] - mn) * id + 0.5f, 31);
            const uint8_t hi = trunc_clip((src[j + 16] - mn) * id + 0.5f, 31);
            b->qs[j] = (uint8_t)((lo & 0x0f) | (hi << 4));
            qh |= (uint32_t)(lo >> 4) << j;
            qh |= (uint32_t)(hi >> 4) << (j + 16);
        }
        std::memcpy(b->qh, &qh, 4);
    }
}

// Same as ggml's quantize_row_q8_0_ref and gguf-py: round half away from zero.
void quant_q8_0(const float* src, void* dst, int64_t n) {
    block_q8_0* b = (block_q8_0*)dst;
    for (int64_t i = 0; i < n / QK8_0; ++i, ++b, src += QK8_0) {
        float amax = 0.0f;
        for (int j = 0; j < QK8_0; ++j) amax = std::fmax(amax, std::fabs(src[j]));
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        b->d = fp32_to_fp16(d);
        for (int j = 0; j < QK8_0; ++j) b->qs[j] = (int8_t)std::round(src[j] * id);
    }
}

// Activations as llama.cpp's CPU backend quantizes them (its x86 code: id =
// 127/amax, halves rounded to even), not as files are written: with the same
// bits in, our dot products give llama.cpp's results exactly.
void act_q8_0(const float* src, void* dst, int64_t n) {
    block_q8_0* b = (block_q8_0*)dst;
    for (int64_t i = 0; i < n / QK8_0; ++i, ++b, src += QK8_0) {
        float amax = 0.0f;
        for (int j = 0; j < QK8_0; ++j) amax = std::fmax(amax, std::fabs(src[j]));
        const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
        b->d = fp32_to_fp16(amax / 127.0f);
        for (int j = 0; j < QK8_0; ++j) b->qs[j] = (int8_t)std::nearbyint(src[j] * id);
    }
}

void act_q8_1(const float* src, void* dst, int64_t n) {
    block_q8_1* b = (block_q8_1*)dst;
    for (int64_t i = 0; i < n / QK8_1; ++i, ++b, src += QK8_1) {
        float amax = 0.0f;
        for (int j = 0; j < QK8_1; ++j) amax = std::fmax(amax, std::fabs(src[j]));
        const float d = amax / 127.0f;
        const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
        int sum = 0;
        for (int j = 0; j < QK8_1; ++j) {
            b->qs[j] = (int8_t)std::nearbyint(src[j] * id);
            sum += b->qs[j];
        }
        b->d = fp32_to_fp16(d);
        b->s = fp32_to_fp16((float)sum * d);
    }
}

// Q8_1 carries s = d * sum(q) so a Q4_1/Q5_1 dot can add the weight minimum's
// contribution m * sum(x) with one multiply per block.
void quant_q8_1(const float* src, void* dst, int64_t n) {
    block_q8_1* b = (block_q8_1*)dst;
    for (int64_t i = 0; i < n / QK8_1; ++i, ++b, src += QK8_1) {
        float amax = 0.0f;
        for (int j = 0; j < QK8_1; ++j) amax = std::fmax(amax, std::fabs(src[j]));
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        int sum = 0;
        for (int j = 0; j < QK8_1; ++j) {
            b->qs[j] = (int8_t)std::round(src[j] * id);
            sum += b->qs[j];
        }
        b->d = fp32_to_fp16(d);
        b->s = fp32_to_fp16((float)sum * d);
    }
}

// Q8_K: float scale (activations need no f16 rounding of d) and the sums of
// each 16 quants, which k-quant dots use to apply the per-group minimums.
void quant_q8_K(const float* src, void* dst, int64_t n) {
    block_q8_K* b = (block_q8_K*)dst;
    for (int64_t i = 0; i < n / QK_K; ++i, ++b, src += QK_K) {
        float amax = 0.0f;
        for (int j = 0; j < QK_K; ++j) amax = std::fmax(amax, std::fabs(src[j]));
        if (amax == 0.0f) {
            std::memset(b, 0, sizeof(*b));
            continue;
        }
        const float id = 127.0f / amax;
        for (int j = 0; j < QK_K; ++j) {
            const int q = (int)std::lrint(src[j] * id);
            b->qs[j] = (int8_t)(q > 127 ? 127 : (q < -127 ? -127 : q));
        }
        for (int g = 0; g < QK_K / 16; ++g) {
            int s = 0;
            for (int j = 0; j < 16; ++j) s += b->qs[g * 16 + j];
            b->bsums[g] = (int16_t)s;
        }
        b->d = 1.0f / id;
    }
}

// ---- k-quants ----

namespace {

inline int clampi(int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); }

// The 6-bit scales and minimums of Q4_K and Q5_K: x ~ (d*sc_j)*q - (dmin*m_j)
// per 32-value sub-block j, q in 0..levels. Minimums and scales are rounded
// up (never down) to their codes, so each sub-block's range fits the levels:
// the error per value stays at most half a step (plus f16 rounding of d and
// dmin).
struct KScaleMin {
    float d = 0, dmin = 0;
    uint8_t sq[8], mq[8];
    float ml[8];  // dmin * mq: what each sub-block's values are shifted by
};

KScaleMin fit_k_scale_min(const float* src, float levels) {
    KScaleMin k;
    float mins[8], maxs[8];
    float max_min = 0.0f;
    for (int j = 0; j < 8; ++j) {
        float mn = src[j * 32], mx = src[j * 32];
        for (int l = 1; l < 32; ++l) { mn = std::fmin(mn, src[j * 32 + l]); mx = std::fmax(mx, src[j * 32 + l]); }
        mins[j] = mn < 0.0f ? -mn : 0.0f;  // stored minimum is subtracted, never negative
        maxs[j] = mx;
        max_min = std::fmax(max_min, mins[j]);
    }
    k.dmin = fp16_to_fp32(fp32_to_fp16(max_min / 63.0f));
    float range[8], max_range = 0.0f;
    for (int j = 0; j < 8; ++j) {
        k.mq[j] = (uint8_t)(k.dmin > 0.0f ? clampi((int)std::ceil(mins[j] / k.dmin), 0, 63) : 0);
        k.ml[j] = k.dmin * (float)k.mq[j];
        range[j] = std::fmax(maxs[j] + k.ml[j], 0.0f) / levels;
        max_range = std::fmax(max_range, range[j]);
    }
    k.d = fp16_to_fp32(fp32_to_fp16(max_range / 63.0f));
    for (int j = 0; j < 8; ++j) k.sq[j] = (uint8_t)(k.d > 0.0f ? clampi((int)std::ceil(range[j] / k.d), 0, 63) : 0);
    return k;
}

// The 12-byte packing k4_scale_min() reads.
void pack_k_scale_min(const KScaleMin& k, uint8_t* scales) {
    std::memset(scales, 0, 12);
    for (int j = 0; j < 8; ++j) {
        if (j < 4) {
            scales[j] = k.sq[j];
            scales[j + 4] = k.mq[j];
        } else {
            scales[j + 4] = (uint8_t)((k.sq[j] & 0x0f) | ((k.mq[j] & 0x0f) << 4));
            scales[j - 4] |= (uint8_t)((k.sq[j] >> 4) << 6);
            scales[j] |= (uint8_t)((k.mq[j] >> 4) << 6);
        }
    }
}

}  // namespace

// Q4_K: 16 levels per sub-block (fit_k_scale_min above).
void quant_q4_K(const float* src, void* dst, int64_t n) {
    block_q4_K* b = (block_q4_K*)dst;
    for (int64_t i = 0; i < n / QK_K; ++i, ++b, src += QK_K) {
        const KScaleMin k = fit_k_scale_min(src, 15.0f);
        b->d = fp32_to_fp16(k.d);
        b->dmin = fp32_to_fp16(k.dmin);
        pack_k_scale_min(k, b->scales);
        std::memset(b->qs, 0, sizeof(b->qs));
        for (int j = 0; j < 8; ++j) {
            const float dl = k.d * (float)k.sq[j];
            const float idl = dl > 0.0f ? 1.0f / dl : 0.0f;
            for (int l = 0; l < 32; ++l) {
                const int q = clampi((int)std::lrint((src[j * 32 + l] + k.ml[j]) * idl), 0, 15);
                b->qs[(j / 2) * 32 + l] |= (uint8_t)(q << (4 * (j % 2)));
            }
        }
    }
}

// Q6_K: x ~ (d*sc_g)*q, q in -32..31, signed 8-bit scale per 16 values. The
// value of largest magnitude maps to -32 (as ggml does), and scale codes are
// rounded away from zero so no value needs more than the 6 bits.
void quant_q6_K(const float* src, void* dst, int64_t n) {
    block_q6_K* b = (block_q6_K*)dst;
    for (int64_t i = 0; i < n / QK_K; ++i, ++b, src += QK_K) {
        float scale[16], amax = 0.0f;
        for (int g = 0; g < 16; ++g) {
            scale[g] = signed_absmax(src + g * 16, 16) / -32.0f;
            amax = std::fmax(amax, std::fabs(scale[g]));
        }
        const float d = fp16_to_fp32(fp32_to_fp16(amax / 127.0f));
        b->d = fp32_to_fp16(d);
        std::memset(b->ql, 0, sizeof(b->ql));
        std::memset(b->qh, 0, sizeof(b->qh));
        for (int g = 0; g < 16; ++g) {
            const float r = d > 0.0f ? scale[g] / d : 0.0f;
            b->scales[g] = (int8_t)clampi((int)(r < 0.0f ? std::floor(r) : std::ceil(r)), -127, 127);
        }
        for (int e = 0; e < QK_K; ++e) {
            const float dl = d * (float)b->scales[e / 16];
            const int q = dl != 0.0f ? clampi((int)std::lrint(src[e] / dl), -32, 31) : 0;
            const int u = q + 32;
            const int h = e / 128, s = (e / 32) % 4, l = e % 32;
            b->ql[h * 64 + (s & 1) * 32 + l] |= (uint8_t)((u & 0x0f) << (s < 2 ? 0 : 4));
            b->qh[h * 32 + l] |= (uint8_t)((u >> 4) << (2 * s));
        }
    }
}

// Q5_K: the Q4_K scheme with 32 levels, about half of Q4_K's error.
// Not byte-identical with ggml's quantize_row_q5_K_ref (which searches the
// scales iteratively); the blocks are valid for any Q5_K reader.
void quant_q5_K(const float* src, void* dst, int64_t n) {
    block_q5_K* b = (block_q5_K*)dst;
    for (int64_t i = 0; i < n / QK_K; ++i, ++b, src += QK_K) {
        const KScaleMin k = fit_k_scale_min(src, 31.0f);
        b->d = fp32_to_fp16(k.d);
        b->dmin = fp32_to_fp16(k.dmin);
        pack_k_scale_min(k, b->scales);
        std::memset(b->qs, 0, sizeof(b->qs));
        std::memset(b->qh, 0, sizeof(b->qh));
        for (int j = 0; j < 8; ++j) {
            const float dl = k.d * (float)k.sq[j];
            const float idl = dl > 0.0f ? 1.0f / dl : 0.0f;
            for (int l = 0; l < 32; ++l) {
                const int q = clampi((int)std::lrint((src[j * 32 + l] + k.ml[j]) * idl), 0, 31);
                // Element j*32 + l: low nibble in qs[(j/2)*32 + l] at 4*(j%2), fifth bit j of qh[l].
                b->qs[(j / 2) * 32 + l] |= (uint8_t)((q & 0x0f) << (4 * (j % 2)));
                b->qh[l] |= (uint8_t)((q >> 4) << j);
            }
        }
    }
}

// Q2_K: x ~ (d*sc_g)*q - (dmin*m_g), q in 0..3, 4-bit scale and minimum per
// 16 values. Codes rounded up as for Q4_K, so every value is within half a
// step (d*sc_g/2) of its level. Element e = h*128 + s*32 + l: 2 bits at
// shift 2s of qs[h*32 + l].
void quant_q2_K(const float* src, void* dst, int64_t n) {
    block_q2_K* b = (block_q2_K*)dst;
    for (int64_t i = 0; i < n / QK_K; ++i, ++b, src += QK_K) {
        float mins[16], maxs[16], max_min = 0.0f;
        for (int g = 0; g < 16; ++g) {
            float mn = src[g * 16], mx = src[g * 16];
            for (int l = 1; l < 16; ++l) { mn = std::fmin(mn, src[g * 16 + l]); mx = std::fmax(mx, src[g * 16 + l]); }
            mins[g] = mn < 0.0f ? -mn : 0.0f;
            maxs[g] = mx;
            max_min = std::fmax(max_min, mins[g]);
        }
        const float dmin = fp16_to_fp32(fp32_to_fp16(max_min / 15.0f));
        uint8_t mq[16], sq[16];
        float ml[16], range[16], max_range = 0.0f;
        for (int g = 0; g < 16; ++g) {
            mq[g] = (uint8_t)(dmin > 0.0f ? clampi((int)std::ceil(mins[g] / dmin), 0, 15) : 0);
            ml[g] = dmin * (float)mq[g];
            range[g] = std::fmax(maxs[g] + ml[g], 0.0f) / 3.0f;
            max_range = std::fmax(max_range, range[g]);
        }
        const float d = fp16_to_fp32(fp32_to_fp16(max_range / 15.0f));
        for (int g = 0; g < 16; ++g) {
            sq[g] = (uint8_t)(d > 0.0f ? clampi((int)std::ceil(range[g] / d), 0, 15) : 0);
            b->scales[g] = (uint8_t)(sq[g] | (mq[g] << 4));
        }
        b->d = fp32_to_fp16(d);
        b->dmin = fp32_to_fp16(dmin);
        std::memset(b->qs, 0, sizeof(b->qs));
        for (int e = 0; e < QK_K; ++e) {
            const int g = e / 16;
            const float dl = d * (float)sq[g];
            const int q = dl > 0.0f ? clampi((int)std::lrint((src[e] + ml[g]) / dl), 0, 3) : 0;
            const int h = e / 128, s = (e / 32) % 4, l = e % 32;
            b->qs[h * 32 + l] |= (uint8_t)(q << (2 * s));
        }
    }
}

// Q3_K: x ~ (d*sc_g)*q, q in -4..3, signed 6-bit scale per 16 values. As in
// Q6_K the value of largest magnitude maps to -4 and scale codes are rounded
// away from zero. Stored as u = q + 4: 2 low bits at shift 2s of
// qs[h*32 + l] (e = h*128 + s*32 + l), the third bit as bit e/32 of hmask[l];
// the 16 codes (offset +32) as 4 low bits in scales[0..7] (low nibble for
// groups 0-7, high for 8-15) and 2 high bits in scales[8 + g%4] at 2*(g/4).
void quant_q3_K(const float* src, void* dst, int64_t n) {
    block_q3_K* b = (block_q3_K*)dst;
    for (int64_t i = 0; i < n / QK_K; ++i, ++b, src += QK_K) {
        float scale[16], amax = 0.0f;
        for (int g = 0; g < 16; ++g) {
            scale[g] = signed_absmax(src + g * 16, 16) / -4.0f;
            amax = std::fmax(amax, std::fabs(scale[g]));
        }
        const float d = fp16_to_fp32(fp32_to_fp16(amax / 31.0f));
        b->d = fp32_to_fp16(d);
        int sc[16];
        std::memset(b->scales, 0, sizeof(b->scales));
        for (int g = 0; g < 16; ++g) {
            const float r = d > 0.0f ? scale[g] / d : 0.0f;
            sc[g] = clampi((int)(r < 0.0f ? std::floor(r) : std::ceil(r)), -32, 31);
            const int u = sc[g] + 32;
            b->scales[g % 8] |= (uint8_t)((u & 0x0f) << (g < 8 ? 0 : 4));
            b->scales[8 + g % 4] |= (uint8_t)((u >> 4) << (2 * (g / 4)));
        }
        std::memset(b->qs, 0, sizeof(b->qs));
        std::memset(b->hmask, 0, sizeof(b->hmask));
        for (int e = 0; e < QK_K; ++e) {
            const float dl = d * (float)sc[e / 16];
            const int q = dl != 0.0f ? clampi((int)std::lrint(src[e] / dl), -4, 3) : 0;
            const int u = q + 4;
            const int h = e / 128, s = (e / 32) % 4, l = e % 32;
            b->qs[h * 32 + l] |= (uint8_t)((u & 3) << (2 * s));
            b->hmask[l] |= (uint8_t)((u >> 2) << (e / 32));
        }
    }
}

// MXFP4 as the OCP MX spec (and gguf-py, llama.cpp) make it: the shared
// exponent is the block's largest magnitude's, less E2M1's largest (2), so
// amax lands in [4, 8) of the E2M1 scale and values above 6 clip to 6; each
// value then takes the nearest E2M1 value, the smaller magnitude on ties
// (gguf-py's argmin keeps the first of equal errors; the errors are computed
// as it does, in float32, so ties fall the same way and the bytes match).
void quant_mxfp4(const float* src, void* dst, int64_t n) {
    block_mxfp4* b = (block_mxfp4*)dst;
    for (int64_t i = 0; i < n / QK_MXFP4; ++i, ++b, src += QK_MXFP4) {
        float amax = 0.0f;
        for (int j = 0; j < QK_MXFP4; ++j) amax = std::fmax(amax, std::fabs(src[j]));
        // floor(log2(amax)) exactly (ilogb reads the exponent; subnormals
        // too); a block too small for the smallest scale gets e = 0
        const int e = amax > 0.0f ? std::max(0, std::ilogb(amax) - 2 + 127) : 0;
        b->e = (uint8_t)e;
        const float d = mxfp4_scale(b->e);
        uint8_t q[QK_MXFP4];
        for (int j = 0; j < QK_MXFP4; ++j) {
            const float ax = std::fabs(src[j]);
            int best = 0;
            float best_err = ax;
            for (int k = 1; k < 8; ++k) {
                const float err = std::fabs(d * (float)kMxfp4Values[k] - ax);
                if (err < best_err) { best = k; best_err = err; }
            }
            q[j] = (uint8_t)(best != 0 && src[j] < 0.0f ? best | 8 : best);
        }
        for (int j = 0; j < 16; ++j) b->qs[j] = (uint8_t)(q[j] | (q[j + 16] << 4));
    }
}

}  // namespace eg::quant
