// Portable dot products of one weight row with one quantized activation row,
// for every supported type. They are the reference the SIMD versions are
// tested against and the fallback on CPUs without AVX2. Integer products are
// summed exactly per block and scaled once, as ggml does.
#include <cstring>

#include "core/fp16.h"
#include "quant/kernels_impl.h"

namespace eg::quant {

namespace {
inline float h2f(uint16_t h) { return fp16_to_fp32(h); }
}  // namespace

float dot_f32_scalar(int64_t n, const void* w, const void* x) {
    const float* a = (const float*)w;
    const float* b = (const float*)x;
    float s[8] = {0};  // 8 partial sums: fewer dependent adds, less rounding drift
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; ++j) s[j] += a[i + j] * b[i + j];
    float r = 0.0f;
    for (; i < n; ++i) r += a[i] * b[i];
    for (int j = 0; j < 8; ++j) r += s[j];
    return r;
}

float dot_f16_scalar(int64_t n, const void* w, const void* x) {
    const uint16_t* a = (const uint16_t*)w;
    const uint16_t* b = (const uint16_t*)x;
    float s[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; ++j) s[j] += h2f(a[i + j]) * h2f(b[i + j]);
    float r = 0.0f;
    for (; i < n; ++i) r += h2f(a[i]) * h2f(b[i]);
    for (int j = 0; j < 8; ++j) r += s[j];
    return r;
}

// BF16 weights are paired with F32 activations: BF16 keeps only 8 mantissa
// bits, and rounding the activations too would double the error for no gain
// on CPUs without native BF16 dot instructions.
float dot_bf16_scalar(int64_t n, const void* w, const void* x) {
    const uint16_t* a = (const uint16_t*)w;
    const float* b = (const float*)x;
    float s[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; ++j) s[j] += bf16_to_fp32(a[i + j]) * b[i + j];
    float r = 0.0f;
    for (; i < n; ++i) r += bf16_to_fp32(a[i]) * b[i];
    for (int j = 0; j < 8; ++j) r += s[j];
    return r;
}

float dot_q4_0_scalar(int64_t n, const void* w, const void* x) {
    const block_q4_0* a = (const block_q4_0*)w;
    const block_q8_0* b = (const block_q8_0*)x;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK4_0; ++i) {
        int s = 0;
        for (int j = 0; j < 16; ++j) {
            s += ((a[i].qs[j] & 0x0f) - 8) * b[i].qs[j];
            s += ((a[i].qs[j] >> 4) - 8) * b[i].qs[j + 16];
        }
        sum += (float)s * (h2f(a[i].d) * h2f(b[i].d));
    }
    return sum;
}

float dot_q4_1_scalar(int64_t n, const void* w, const void* x) {
    const block_q4_1* a = (const block_q4_1*)w;
    const block_q8_1* b = (const block_q8_1*)x;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK4_1; ++i) {
        int s = 0;
        for (int j = 0; j < 16; ++j) {
            s += (a[i].qs[j] & 0x0f) * b[i].qs[j];
            s += (a[i].qs[j] >> 4) * b[i].qs[j + 16];
        }
        sum += (float)s * (h2f(a[i].d) * h2f(b[i].d)) + h2f(a[i].m) * h2f(b[i].s);
    }
    return sum;
}

float dot_q5_0_scalar(int64_t n, const void* w, const void* x) {
    const block_q5_0* a = (const block_q5_0*)w;
    const block_q8_0* b = (const block_q8_0*)x;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK5_0; ++i) {
        uint32_t qh;
        std::memcpy(&qh, a[i].qh, 4);
        int s = 0;
        for (int j = 0; j < 16; ++j) {
            const int lo = ((a[i].qs[j] & 0x0f) | (int)(((qh >> j) & 1u) << 4)) - 16;
            const int hi = ((a[i].qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1u) << 4)) - 16;
            s += lo * b[i].qs[j] + hi * b[i].qs[j + 16];
        }
        sum += (float)s * (h2f(a[i].d) * h2f(b[i].d));
    }
    return sum;
}

float dot_q5_1_scalar(int64_t n, const void* w, const void* x) {
    const block_q5_1* a = (const block_q5_1*)w;
    const block_q8_1* b = (const block_q8_1*)x;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK5_1; ++i) {
        uint32_t qh;
        std::memcpy(&qh, a[i].qh, 4);
        int s = 0;
        for (int j = 0; j < 16; ++j) {
            const int lo = (a[i].qs[j] & 0x0f) | (int)(((qh >> j) & 1u) << 4);
            const int hi = (a[i].qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1u) << 4);
            s += lo * b[i].qs[j] + hi * b[i].qs[j + 16];
        }
        sum += (float)s * (h2f(a[i].d) * h2f(b[i].d)) + h2f(a[i].m) * h2f(b[i].s);
    }
    return sum;
}

float dot_q8_0_scalar(int64_t n, const void* w, const void* x) {
    const block_q8_0* a = (const block_q8_0*)w;
    const block_q8_0* b = (const block_q8_0*)x;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK8_0; ++i) {
        int s = 0;
        for (int j = 0; j < QK8_0; ++j) s += a[i].qs[j] * b[i].qs[j];
        sum += (float)s * (h2f(a[i].d) * h2f(b[i].d));
    }
    return sum;
}

float dot_mxfp4_scalar(int64_t n, const void* w, const void* x) {
    const block_mxfp4* a = (const block_mxfp4*)w;
    const block_q8_0* b = (const block_q8_0*)x;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK_MXFP4; ++i) {
        int s = 0;
        for (int j = 0; j < 16; ++j) {
            s += kMxfp4Values[a[i].qs[j] & 0x0f] * b[i].qs[j];
            s += kMxfp4Values[a[i].qs[j] >> 4] * b[i].qs[j + 16];
        }
        sum += (float)s * (mxfp4_scale(a[i].e) * h2f(b[i].d));
    }
    return sum;
}

// ---- k-quants: each weight block is decoded to small integers and summed
// against the Q8_K activations per scale group; minimums use Q8_K's bsums. ----

namespace {
// sum over [0,len) of q[i] * x[i]
inline int idot(const int8_t* q, const int8_t* x, int len) {
    int s = 0;
    for (int i = 0; i < len; ++i) s += q[i] * x[i];
    return s;
}
}  // namespace

float dot_q2_K_scalar(int64_t n, const void* w, const void* x) {
    const block_q2_K* a = (const block_q2_K*)w;
    const block_q8_K* b = (const block_q8_K*)x;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK_K; ++i) {
        int8_t q[QK_K];
        for (int e = 0; e < QK_K; ++e)
            q[e] = (int8_t)((a[i].qs[(e / 128) * 32 + e % 32] >> (2 * ((e / 32) % 4))) & 3);
        int sd = 0, sm = 0;
        for (int g = 0; g < 16; ++g) {
            sd += (a[i].scales[g] & 0x0f) * idot(q + g * 16, b[i].qs + g * 16, 16);
            sm += (a[i].scales[g] >> 4) * b[i].bsums[g];
        }
        sum += b[i].d * (h2f(a[i].d) * (float)sd - h2f(a[i].dmin) * (float)sm);
    }
    return sum;
}

float dot_q3_K_scalar(int64_t n, const void* w, const void* x) {
    const block_q3_K* a = (const block_q3_K*)w;
    const block_q8_K* b = (const block_q8_K*)x;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK_K; ++i) {
        int8_t sc[16], q[QK_K];
        q3_K_scales(a[i].scales, sc);
        for (int e = 0; e < QK_K; ++e) {
            const int ql = (a[i].qs[(e / 128) * 32 + e % 32] >> (2 * ((e / 32) % 4))) & 3;
            const int hb = (a[i].hmask[e % 32] >> (e / 32)) & 1;
            q[e] = (int8_t)(ql - ((hb ^ 1) << 2));
        }
        int s = 0;
        for (int g = 0; g < 16; ++g) s += sc[g] * idot(q + g * 16, b[i].qs + g * 16, 16);
        sum += b[i].d * h2f(a[i].d) * (float)s;
    }
    return sum;
}

float dot_q4_K_scalar(int64_t n, const void* w, const void* x) {
    const block_q4_K* a = (const block_q4_K*)w;
    const block_q8_K* b = (const block_q8_K*)x;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK_K; ++i) {
        int sd = 0, sm = 0;
        for (int j = 0; j < 8; ++j) {
            uint8_t sc, m;
            k4_scale_min(j, a[i].scales, &sc, &m);
            int8_t q[32];
            for (int l = 0; l < 32; ++l) q[l] = (int8_t)((a[i].qs[(j / 2) * 32 + l] >> (4 * (j % 2))) & 0x0f);
            sd += sc * idot(q, b[i].qs + j * 32, 32);
            sm += m * (b[i].bsums[2 * j] + b[i].bsums[2 * j + 1]);
        }
        sum += b[i].d * (h2f(a[i].d) * (float)sd - h2f(a[i].dmin) * (float)sm);
    }
    return sum;
}

float dot_q5_K_scalar(int64_t n, const void* w, const void* x) {
    const block_q5_K* a = (const block_q5_K*)w;
    const block_q8_K* b = (const block_q8_K*)x;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK_K; ++i) {
        int sd = 0, sm = 0;
        for (int j = 0; j < 8; ++j) {
            uint8_t sc, m;
            k4_scale_min(j, a[i].scales, &sc, &m);
            int8_t q[32];
            for (int l = 0; l < 32; ++l)
                q[l] = (int8_t)(((a[i].qs[(j / 2) * 32 + l] >> (4 * (j % 2))) & 0x0f) |
                                (((a[i].qh[l] >> j) & 1) << 4));
            sd += sc * idot(q, b[i].qs + j * 32, 32);
            sm += m * (b[i].bsums[2 * j] + b[i].bsums[2 * j + 1]);
        }
        sum += b[i].d * (h2f(a[i].d) * (float)sd - h2f(a[i].dmin) * (float)sm);
    }
    return sum;
}

float dot_q6_K_scalar(int64_t n, const void* w, const void* x) {
    const block_q6_K* a = (const block_q6_K*)w;
    const block_q8_K* b = (const block_q8_K*)x;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK_K; ++i) {
        int8_t q[QK_K];
        for (int e = 0; e < QK_K; ++e) {
            const int h = e / 128, s = (e / 32) % 4, l = e % 32;
            const uint8_t qlb = a[i].ql[h * 64 + (s & 1) * 32 + l];
            const int lo = s < 2 ? (qlb & 0x0f) : (qlb >> 4);
            const int hi = (a[i].qh[h * 32 + l] >> (2 * s)) & 3;
            q[e] = (int8_t)((lo | (hi << 4)) - 32);
        }
        int s = 0;
        for (int g = 0; g < 16; ++g) s += a[i].scales[g] * idot(q + g * 16, b[i].qs + g * 16, 16);
        sum += b[i].d * h2f(a[i].d) * (float)s;
    }
    return sum;
}

}  // namespace eg::quant
