// Decoding of GGUF quantized blocks, 32 values at a time, for the CUDA
// kernels and, compiled as plain C++, for the tests that check it against
// quant/dequant.cpp and dequant_iq.cpp on any machine (no GPU needed).
// Every supported type splits a row into chunks of 32 consecutive values:
// Q4_0/Q4_1/Q5_0/Q5_1/Q8_0/IQ4_NL one block; the k-quants, the other
// i-quants and the ternary types a 32-value eighth of a 256-value block;
// F32/F16/BF16 32 values. Same element order, scales, offsets and float
// expressions as the CPU's dequantization.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>

#include "core/fp16.h"
#include "quant/iq_tables.h"
#include "quant/types.h"

#ifdef __CUDACC__
#include <cuda_fp16.h>
#define EG_HD __host__ __device__ __forceinline__
#else
#define EG_HD inline
#endif
// Unrolled in the device pass only (the host compiler warns on the pragma).
#ifdef __CUDA_ARCH__
#define EG_UNROLL _Pragma("unroll")
#else
#define EG_UNROLL
#endif

namespace eg::cuda {

EG_HD float load_half(const uint8_t* p) {
#ifdef __CUDA_ARCH__
    return __half2float(*reinterpret_cast<const __half*>(p));
#else
    uint16_t h;
    std::memcpy(&h, p, 2);
    return fp16_to_fp32(h);
#endif
}

// Little-endian words at any byte address (blocks of 22, 50, 54, 98 or 110
// bytes keep nothing aligned beyond 2 bytes).
EG_HD uint32_t u16_at(const uint8_t* p) { return (uint32_t)p[0] | ((uint32_t)p[1] << 8); }
EG_HD uint32_t u32_at(const uint8_t* p) { return u16_at(p) | (u16_at(p + 2) << 16); }

// 32 bytes at a 16-byte aligned address as 8 words (two 16-byte loads).
EG_HD void load32(const uint8_t* p, uint32_t* w) {
#ifdef __CUDA_ARCH__
    const uint4 a = reinterpret_cast<const uint4*>(p)[0], b = reinterpret_cast<const uint4*>(p)[1];
    w[0] = a.x, w[1] = a.y, w[2] = a.z, w[3] = a.w, w[4] = b.x, w[5] = b.y, w[6] = b.z, w[7] = b.w;
#else
    std::memcpy(w, p, 32);
#endif
}

// Scale and min (6 bits each) of sub-block j (0..7) of a Q4_K/Q5_K block,
// as k4_scale_min in quant/dequant.cpp.
EG_HD void k4_scale_min(int j, const uint8_t* q, int* sc, int* m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (q[j + 4] & 0x0f) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

// The 32 values of chunk c of a row starting at `row`, into v[32].
template <GgmlType T>
EG_HD void chunk32(const uint8_t* row, int64_t c, float* v);

template <>
EG_HD void chunk32<GgmlType::F32>(const uint8_t* row, int64_t c, float* v) {
#ifdef __CUDA_ARCH__
    const float4* p = reinterpret_cast<const float4*>(row) + c * 8;
EG_UNROLL
    for (int i = 0; i < 8; ++i) {
        const float4 f = p[i];
        v[4 * i] = f.x, v[4 * i + 1] = f.y, v[4 * i + 2] = f.z, v[4 * i + 3] = f.w;
    }
#else
    std::memcpy(v, row + c * 128, 128);
#endif
}

// F16 rows are 64-byte multiples (k % 32 == 0): chunks read as 4-byte pairs.
template <>
EG_HD void chunk32<GgmlType::F16>(const uint8_t* row, int64_t c, float* v) {
#ifdef __CUDA_ARCH__
    const __half2* p = reinterpret_cast<const __half2*>(row + c * 64);
EG_UNROLL
    for (int i = 0; i < 16; ++i) {
        const float2 f = __half22float2(p[i]);
        v[2 * i] = f.x, v[2 * i + 1] = f.y;
    }
#else
    for (int i = 0; i < 32; ++i) v[i] = load_half(row + c * 64 + 2 * i);
#endif
}

// BF16: the top half of an F32 (rows of 64-byte chunks, read as u32 pairs).
template <>
EG_HD void chunk32<GgmlType::BF16>(const uint8_t* row, int64_t c, float* v) {
#ifdef __CUDA_ARCH__
    const uint32_t* p = reinterpret_cast<const uint32_t*>(row + c * 64);
EG_UNROLL
    for (int i = 0; i < 16; ++i) {
        const uint32_t w = p[i];
        v[2 * i] = __uint_as_float(w << 16), v[2 * i + 1] = __uint_as_float(w & 0xffff0000u);
    }
#else
    for (int i = 0; i < 32; ++i) v[i] = bf16_to_fp32((uint16_t)u16_at(row + c * 64 + 2 * i));
#endif
}

template <>
EG_HD void chunk32<GgmlType::Q4_0>(const uint8_t* row, int64_t c, float* v) {
    const uint8_t* b = row + c * 18;  // d, qs[16]
    const float d = load_half(b);
EG_UNROLL
    for (int j = 0; j < 16; ++j) {
        const int q = b[2 + j];
        v[j] = d * (float)((q & 0x0f) - 8);
        v[j + 16] = d * (float)((q >> 4) - 8);
    }
}

template <>
EG_HD void chunk32<GgmlType::Q4_1>(const uint8_t* row, int64_t c, float* v) {
    const uint8_t* b = row + c * 20;  // d, m, qs[16]
    const float d = load_half(b), m = load_half(b + 2);
EG_UNROLL
    for (int j = 0; j < 16; ++j) {
        const int q = b[4 + j];
        v[j] = d * (float)(q & 0x0f) + m;
        v[j + 16] = d * (float)(q >> 4) + m;
    }
}

template <>
EG_HD void chunk32<GgmlType::Q8_0>(const uint8_t* row, int64_t c, float* v) {
    const uint8_t* b = row + c * 34;  // d, qs[32]
    const float d = load_half(b);
    const int8_t* q = reinterpret_cast<const int8_t*>(b + 2);
EG_UNROLL
    for (int j = 0; j < 32; ++j) v[j] = (float)q[j] * d;
}

// Q4_K block (144 bytes): d, dmin, scales[12], qs[128]. Sub-block j = c % 8:
// values j*32 + l = nibble (j % 2) of qs[(j / 2) * 32 + l].
template <>
EG_HD void chunk32<GgmlType::Q4_K>(const uint8_t* row, int64_t c, float* v) {
    const uint8_t* b = row + (c >> 3) * 144;
    const int j = (int)(c & 7);
    const float d = load_half(b), dmin = load_half(b + 2);
    int sc, m;
    k4_scale_min(j, b + 4, &sc, &m);
    const float dl = d * (float)sc, ml = dmin * (float)m;
    // qs starts at byte 16 of a 144-byte block (rows are whole blocks, 144 =
    // 9 x 16): two 16-byte loads per chunk.
    uint32_t qs[8];
    load32(b + 16 + (j >> 1) * 32, qs);
    const int shift = 4 * (j & 1);
EG_UNROLL
    for (int w = 0; w < 8; ++w) {
        const uint32_t q4 = qs[w];
EG_UNROLL
        for (int i = 0; i < 4; ++i) v[4 * w + i] = dl * (float)((q4 >> (8 * i + shift)) & 0x0f) - ml;
    }
}

// Q5_0 block (22 bytes): d, qh[4] (the fifth bits, value j at bit j), qs[16];
// value (lo | hi bit << 4) - 16.
template <>
EG_HD void chunk32<GgmlType::Q5_0>(const uint8_t* row, int64_t c, float* v) {
    const uint8_t* b = row + c * 22;
    const float d = load_half(b);
    const uint32_t qh = u32_at(b + 2);
EG_UNROLL
    for (int j = 0; j < 16; ++j) {
        const int q = b[6 + j];
        v[j] = d * (float)(((q & 0x0f) | (int)(((qh >> j) & 1u) << 4)) - 16);
        v[j + 16] = d * (float)(((q >> 4) | (int)(((qh >> (j + 16)) & 1u) << 4)) - 16);
    }
}

// Q5_1 block (24 bytes): d, m, qh[4], qs[16]; value d * q + m.
template <>
EG_HD void chunk32<GgmlType::Q5_1>(const uint8_t* row, int64_t c, float* v) {
    const uint8_t* b = row + c * 24;
    const float d = load_half(b), m = load_half(b + 2);
    const uint32_t qh = u32_at(b + 4);
EG_UNROLL
    for (int j = 0; j < 16; ++j) {
        const int q = b[8 + j];
        v[j] = d * (float)((q & 0x0f) | (int)(((qh >> j) & 1u) << 4)) + m;
        v[j + 16] = d * (float)((q >> 4) | (int)(((qh >> (j + 16)) & 1u) << 4)) + m;
    }
}

// Q2_K block (84 bytes): scales[16] (per 16 values: scale low nibble, min
// high nibble), qs[64], d, dmin. Value 128h + 32s + l is bits 2s of
// qs[32h + l]: d * sc * q - dmin * m.
template <>
EG_HD void chunk32<GgmlType::Q2_K>(const uint8_t* row, int64_t c, float* v) {
    const uint8_t* b = row + (c >> 3) * 84;
    const int sub = (int)(c & 7), shift = 2 * (sub & 3);
    const float d = load_half(b + 80), dmin = load_half(b + 82);
    const uint8_t* q = b + 16 + (sub >> 2) * 32;
EG_UNROLL
    for (int half = 0; half < 2; ++half) {
        const int g = 2 * sub + half;
        const float dl = d * (float)(b[g] & 0x0f), ml = dmin * (float)(b[g] >> 4);
EG_UNROLL
        for (int l = 16 * half; l < 16 * half + 16; ++l) v[l] = dl * (float)((q[l] >> shift) & 3) - ml;
    }
}

// Q3_K block (110 bytes): hmask[32], qs[64], scales[12], d. Value
// 128h + 32s + l: 2 low bits at shift 2s of qs[32h + l], and 4 less when
// bit 4h + s of hmask[l] is clear; scale g (per 16 values, 6 bits less 32):
// low nibble g / 8 of scales[g % 8], top bits 2(g / 4) of scales[8 + g % 4].
template <>
EG_HD void chunk32<GgmlType::Q3_K>(const uint8_t* row, int64_t c, float* v) {
    const uint8_t* b = row + (c >> 3) * 110;
    const int sub = (int)(c & 7), shift = 2 * (sub & 3);
    const float d = load_half(b + 108);
    const uint8_t* q = b + 32 + (sub >> 2) * 32;
EG_UNROLL
    for (int half = 0; half < 2; ++half) {
        const int g = 2 * sub + half;
        const int lo = g < 8 ? (b[96 + g] & 0x0f) : (b[96 + g - 8] >> 4);
        const int hi = (b[104 + g % 4] >> (2 * (g / 4))) & 3;
        const float dl = d * (float)((lo | (hi << 4)) - 32);
EG_UNROLL
        for (int l = 16 * half; l < 16 * half + 16; ++l) {
            const int ql = (q[l] >> shift) & 3, hb = (b[l] >> sub) & 1;
            v[l] = dl * (float)(ql - ((hb ^ 1) << 2));
        }
    }
}

// Q5_K block (176 bytes): d, dmin, scales[12], qh[32], qs[128]; the fifth bit
// of value j*32 + l is bit j of qh[l].
template <>
EG_HD void chunk32<GgmlType::Q5_K>(const uint8_t* row, int64_t c, float* v) {
    const uint8_t* b = row + (c >> 3) * 176;
    const int j = (int)(c & 7);
    const float d = load_half(b), dmin = load_half(b + 2);
    int sc, m;
    k4_scale_min(j, b + 4, &sc, &m);
    const float dl = d * (float)sc, ml = dmin * (float)m;
    // 176 = 11 x 16: qh (byte 16) and qs (byte 48) are 16-byte aligned.
    uint32_t qh[8], qs[8];
    load32(b + 16, qh);
    load32(b + 48 + (j >> 1) * 32, qs);
    const int shift = 4 * (j & 1);
EG_UNROLL
    for (int w = 0; w < 8; ++w) {
        const uint32_t q4 = qs[w], h4 = qh[w];
EG_UNROLL
        for (int i = 0; i < 4; ++i) {
            const int lo = (int)((q4 >> (8 * i + shift)) & 0x0f);
            const int hi = (int)((h4 >> (8 * i + j)) & 1);
            v[4 * w + i] = dl * (float)(lo | (hi << 4)) - ml;
        }
    }
}

// Q6_K block (210 bytes): ql[128], qh[64], scales[16] (int8), d. Sub-block
// c % 8 = h*4 + s: value l (0..31) is the low (s < 2) or high nibble of
// ql[h*64 + (s&1)*32 + l], with 2 high bits at shift 2s of qh[h*32 + l], and
// scale scales[(h*128 + s*32 + l) / 16]. Blocks are only 2-byte aligned.
template <>
EG_HD void chunk32<GgmlType::Q6_K>(const uint8_t* row, int64_t c, float* v) {
    const uint8_t* b = row + (c >> 3) * 210;
    const int sub = (int)(c & 7), h = sub >> 2, s = sub & 3;
    const float d = load_half(b + 208);
    const int8_t* scales = reinterpret_cast<const int8_t*>(b + 192);
    const float d0 = d * (float)scales[sub * 2], d1 = d * (float)scales[sub * 2 + 1];
    const uint8_t* ql = b + h * 64 + (s & 1) * 32;
    const uint8_t* qh = b + 128 + h * 32;
    const int lshift = s < 2 ? 0 : 4;
EG_UNROLL
    for (int l = 0; l < 32; ++l) {
        const int lo = (ql[l] >> lshift) & 0x0f;
        const int hi = (qh[l] >> (2 * s)) & 3;
        v[l] = (l < 16 ? d0 : d1) * (float)((lo | (hi << 4)) - 32);
    }
}

// ---- The i-quants and ternary types. A 32-value chunk is one IQ4_NL block
// or one 32-value group of a 256-value block; the element order, scales and
// float expressions are dequant_iq.cpp's, so the host check is bit-exact.

// The grids, sign patterns and IQ4 levels: the host tables of
// quant/iq_tables.h, and device copies made from the same value lists
// (global memory: warps index them at random, which constant memory would
// serialize).
#ifdef __CUDACC__
static __device__ const uint64_t kDevIq2xxsGrid[256] = {EG_IQ2XXS_GRID_VALUES};
static __device__ const uint64_t kDevIq2xsGrid[512] = {EG_IQ2XS_GRID_VALUES};
static __device__ const uint64_t kDevIq2sGrid[1024] = {EG_IQ2S_GRID_VALUES};
static __device__ const uint32_t kDevIq3xxsGrid[256] = {EG_IQ3XXS_GRID_VALUES};
static __device__ const uint32_t kDevIq3sGrid[512] = {EG_IQ3S_GRID_VALUES};
static __device__ const uint64_t kDevIq1sGrid[2048] = {EG_IQ1S_GRID_VALUES};
static __device__ const uint8_t kDevIqSigns[128] = {EG_IQ_SIGNS_VALUES};
static __device__ const int8_t kDevIq4nlValues[16] = {EG_IQ4NL_VALUES};
#endif
#ifdef __CUDA_ARCH__
#define EG_IQ_TABLE(name) kDev##name
#else
#define EG_IQ_TABLE(name) ::eg::quant::k##name
#endif

// fp16 bits to float (IQ1_M assembles its d from four scale words).
EG_HD float half_bits(uint16_t h) {
#ifdef __CUDA_ARCH__
    return __half2float(__ushort_as_half(h));
#else
    return fp16_to_fp32(h);
#endif
}


EG_HD int8_t grid_byte(uint64_t entry, int j) { return (int8_t)(uint8_t)(entry >> (8 * j)); }

// 8 values of a grid entry times db, negated where `signs` has a bit.
EG_HD void grid8_signed(float* v, float db, uint64_t entry, uint32_t signs) {
EG_UNROLL
    for (int j = 0; j < 8; ++j) {
        const float x = db * (float)grid_byte(entry, j);
        v[j] = (signs >> j) & 1 ? -x : x;
    }
}

// 16 bytes of 4-bit indices into IQ4_NL's levels, times dl: low nibbles are
// values 0..15, high nibbles 16..31.
EG_HD void iq4_levels(const uint8_t* q, float dl, float* v) {
EG_UNROLL
    for (int j = 0; j < 16; ++j) {
        v[j] = dl * (float)EG_IQ_TABLE(Iq4nlValues)[q[j] & 0x0f];
        v[j + 16] = dl * (float)EG_IQ_TABLE(Iq4nlValues)[q[j] >> 4];
    }
}

template <>
EG_HD void chunk32<GgmlType::IQ4_NL>(const uint8_t* row, int64_t c, float* v) {
    const uint8_t* b = row + c * 18;  // d, qs[16]
    iq4_levels(b + 2, load_half(b), v);
}

// IQ4_XS block (136 bytes): d, scales_h (2 bits per group), scales_l[4]
// (4 bits per group), qs[128]; group scale (lo | hi << 4) - 32.
template <>
EG_HD void chunk32<GgmlType::IQ4_XS>(const uint8_t* row, int64_t c, float* v) {
    const uint8_t* b = row + (c >> 3) * 136;
    const int ib = (int)(c & 7);
    const int lo = (b[4 + ib / 2] >> (4 * (ib % 2))) & 0x0f;
    const int hi = (int)(u16_at(b + 2) >> (2 * ib)) & 3;
    const float dl = load_half(b) * (float)((lo | (hi << 4)) - 32);
    iq4_levels(b + 8 + 16 * ib, dl, v);
}

// IQ2_XXS block (66 bytes): d, then per group 4 grid indices (one u32) and
// a u32 of 4 x 7 sign bits plus a 4-bit scale on top.
template <>
EG_HD void chunk32<GgmlType::IQ2_XXS>(const uint8_t* row, int64_t c, float* v) {
    const uint8_t* b = row + (c >> 3) * 66;
    const uint8_t* q = b + 2 + 8 * (c & 7);
    const uint32_t idx = u32_at(q), sg = u32_at(q + 4);
    const float db = load_half(b) * (0.5f + (float)(sg >> 28)) * 0.25f;
EG_UNROLL
    for (int l = 0; l < 4; ++l)
        grid8_signed(v + 8 * l, db, EG_IQ_TABLE(Iq2xxsGrid)[(idx >> (8 * l)) & 0xff],
                     EG_IQ_TABLE(IqSigns)[(sg >> (7 * l)) & 127]);
}

// IQ2_XS block (74 bytes): d, qs[32] (u16: 9-bit grid index, 7 sign bits),
// scales[8] (a 4-bit scale per 16 values).
template <>
EG_HD void chunk32<GgmlType::IQ2_XS>(const uint8_t* row, int64_t c, float* v) {
    const uint8_t* b = row + (c >> 3) * 74;
    const int ib = (int)(c & 7);
    const float d = load_half(b);
EG_UNROLL
    for (int l = 0; l < 4; ++l) {
        const int g = 4 * ib + l;
        const int ls = (b[66 + g / 4] >> (4 * ((g / 2) % 2))) & 0x0f;
        const float db = d * (0.5f + (float)ls) * 0.25f;
        const uint32_t q = u16_at(b + 2 + 2 * g);
        grid8_signed(v + 8 * l, db, EG_IQ_TABLE(Iq2xsGrid)[q & 511], EG_IQ_TABLE(IqSigns)[q >> 9]);
    }
}

// IQ2_S block (82 bytes): d, qs[32] grid indices, signs[32], qh[8] (2 high
// index bits per group of 8), scales[8].
template <>
EG_HD void chunk32<GgmlType::IQ2_S>(const uint8_t* row, int64_t c, float* v) {
    const uint8_t* b = row + (c >> 3) * 82;
    const int ib = (int)(c & 7);
    const float d = load_half(b);
EG_UNROLL
    for (int l = 0; l < 4; ++l) {
        const int g = 4 * ib + l;
        const int ls = (b[74 + g / 4] >> (4 * ((g / 2) % 2))) & 0x0f;
        const float db = d * (0.5f + (float)ls) * 0.25f;
        const int idx = b[2 + g] | (((b[66 + g / 4] >> (2 * (g % 4))) & 3) << 8);
        grid8_signed(v + 8 * l, db, EG_IQ_TABLE(Iq2sGrid)[idx], b[34 + g]);
    }
}

// IQ3_XXS block (98 bytes): d, qs[64] grid indices (4 values each), then per
// group a u32 of 4 x 7 sign bits and a 4-bit scale.
template <>
EG_HD void chunk32<GgmlType::IQ3_XXS>(const uint8_t* row, int64_t c, float* v) {
    const uint8_t* b = row + (c >> 3) * 98;
    const int ib = (int)(c & 7);
    const uint32_t sg = u32_at(b + 66 + 4 * ib);
    const float db = load_half(b) * (0.5f + (float)(sg >> 28)) * 0.5f;
EG_UNROLL
    for (int l = 0; l < 4; ++l) {
        const uint32_t s = EG_IQ_TABLE(IqSigns)[(sg >> (7 * l)) & 127];
        const uint64_t e = EG_IQ_TABLE(Iq3xxsGrid)[b[2 + 8 * ib + 2 * l]] |
                           ((uint64_t)EG_IQ_TABLE(Iq3xxsGrid)[b[2 + 8 * ib + 2 * l + 1]] << 32);
        grid8_signed(v + 8 * l, db, e, s);
    }
}

// IQ3_S block (110 bytes): d, qs[64] (low 8 index bits), qh[8] (9th bits),
// signs[32] (one bit per value), scales[4] (a 4-bit odd scale per group).
template <>
EG_HD void chunk32<GgmlType::IQ3_S>(const uint8_t* row, int64_t c, float* v) {
    const uint8_t* b = row + (c >> 3) * 110;
    const int ib = (int)(c & 7);
    const float db = load_half(b) * (float)(1 + 2 * ((b[106 + ib / 2] >> (4 * (ib % 2))) & 0x0f));
EG_UNROLL
    for (int l = 0; l < 4; ++l) {
        const int g0 = 8 * ib + 2 * l;  // two 4-value grid entries make 8 values
        const uint64_t e = EG_IQ_TABLE(Iq3sGrid)[b[2 + g0] | (((b[66 + ib] >> (2 * l)) & 1) << 8)] |
                           ((uint64_t)EG_IQ_TABLE(Iq3sGrid)[b[3 + g0] | (((b[66 + ib] >> (2 * l + 1)) & 1) << 8)]
                            << 32);
        grid8_signed(v + 8 * l, db, e, b[74 + 4 * ib + l]);
    }
}

// IQ1_S block (50 bytes): d, qs[32] (low 8 index bits), qh[8] (u16 per
// group: 4 x 3 high index bits, a 3-bit scale, the delta's sign on top).
// value = dl * (grid + delta), the delta added first as gguf-py does.
template <>
EG_HD void chunk32<GgmlType::IQ1_S>(const uint8_t* row, int64_t c, float* v) {
    const uint8_t* b = row + (c >> 3) * 50;
    const int ib = (int)(c & 7);
    const uint32_t qh = u16_at(b + 34 + 2 * ib);
    const float dl = load_half(b) * (float)(2 * ((qh >> 12) & 7) + 1);
    const float delta = qh & 0x8000 ? -0.125f : 0.125f;
EG_UNROLL
    for (int l = 0; l < 4; ++l) {
        const uint64_t e = EG_IQ_TABLE(Iq1sGrid)[b[2 + 4 * ib + l] | (((qh >> (3 * l)) & 7) << 8)];
EG_UNROLL
        for (int j = 0; j < 8; ++j) v[8 * l + j] = dl * ((float)grid_byte(e, j) + delta);
    }
}

// IQ1_M block (56 bytes): qs[32], qh[16] (a nibble per 8 values: 3 high index
// bits and the delta's sign), scales[8] (four u16: 3-bit scales per 16
// values, the f16 d in their top nibbles).
template <>
EG_HD void chunk32<GgmlType::IQ1_M>(const uint8_t* row, int64_t c, float* v) {
    const uint8_t* b = row + (c >> 3) * 56;
    const int ib = (int)(c & 7);
    uint32_t sc[4];
EG_UNROLL
    for (int i = 0; i < 4; ++i) sc[i] = u16_at(b + 48 + 2 * i);
    const float d = half_bits((uint16_t)((sc[0] >> 12) | ((sc[1] >> 8) & 0x00f0) | ((sc[2] >> 4) & 0x0f00) |
                                         (sc[3] & 0xf000)));
    const uint32_t sc_ib = u16_at(b + 48 + 2 * (ib / 2));
EG_UNROLL
    for (int l = 0; l < 4; ++l) {
        const int g = 4 * ib + l, s16 = g / 2;  // scale word s16 / 4 is ib / 2
        const float dl = d * (float)(2 * ((sc_ib >> (3 * (s16 % 4))) & 7) + 1);
        const int nib = (b[32 + g / 2] >> (4 * (g % 2))) & 0x0f;
        const float delta = nib & 8 ? -0.125f : 0.125f;
        const uint64_t e = EG_IQ_TABLE(Iq1sGrid)[b[g] | ((nib & 7) << 8)];
EG_UNROLL
        for (int j = 0; j < 8; ++j) v[8 * l + j] = dl * ((float)grid_byte(e, j) + delta);
    }
}

// TQ1_0 block (54 bytes): qs[48], qh[4], d. Five ternary digits per byte:
// values 0..159 are digit e/32 of qs[e%32], 160..239 digit (e-160)/16 of
// qs[32 + e%16], 240..255 digit (e-240)/4 of qh[e%4]; digit k of q is
// ((u8)(q * 3^k) * 3) >> 8, minus 1.
template <>
EG_HD void chunk32<GgmlType::TQ1_0>(const uint8_t* row, int64_t c, float* v) {
    const uint8_t* b = row + (c >> 3) * 54;
    const float d = load_half(b + 52);
EG_UNROLL
    for (int j = 0; j < 32; ++j) {
        const int e = (int)(c & 7) * 32 + j;
        const int k = e < 160 ? e / 32 : e < 240 ? (e - 160) / 16 : (e - 240) / 4;
        const uint8_t q = e < 160 ? b[e % 32] : e < 240 ? b[32 + e % 16] : b[48 + e % 4];
        const uint32_t pow3 = k == 0 ? 1 : k == 1 ? 3 : k == 2 ? 9 : k == 3 ? 27 : 81;
        const uint32_t x = (uint8_t)(q * pow3);
        v[j] = d * (float)((int)((x * 3) >> 8) - 1);
    }
}

// TQ2_0 block (66 bytes): qs[64], d. Value e is bits 2*((e/32)%4) of
// qs[(e/128)*32 + e%32], minus 1.
template <>
EG_HD void chunk32<GgmlType::TQ2_0>(const uint8_t* row, int64_t c, float* v) {
    const uint8_t* b = row + (c >> 3) * 66;
    const int sub = (int)(c & 7);
    const float d = load_half(b + 64);
    const uint8_t* q = b + (sub >> 2) * 32;
EG_UNROLL
    for (int j = 0; j < 32; ++j) v[j] = d * (float)(((q[j] >> (2 * (sub & 3))) & 3) - 1);
}

// Every type with a chunk32: X(name) per GgmlType::name, for the switches
// here and the CUDA kernels' dispatch.
#define EG_CHUNK32_TYPES(X)                                                                                   \
    X(F32) X(F16) X(BF16) X(Q4_0) X(Q4_1) X(Q5_0) X(Q5_1) X(Q8_0) X(Q2_K) X(Q3_K) X(Q4_K) X(Q5_K) X(Q6_K)  \
    X(IQ4_NL) X(IQ4_XS) X(IQ2_XXS) X(IQ2_XS) X(IQ2_S) X(IQ3_XXS) X(IQ3_S) X(IQ1_S) X(IQ1_M) X(TQ1_0) X(TQ2_0)

// Whether chunk32 has a specialization for t.
inline bool chunk32_supported(GgmlType t) {
    switch (t) {
#define EG_CASE(name) case GgmlType::name:
        EG_CHUNK32_TYPES(EG_CASE) return true;
#undef EG_CASE
        default: return false;
    }
}

// Those types' names, "F32, F16, ..., TQ2_0", for refusals.
inline std::string chunk32_type_names() {
#define EG_NAME(name) ", " #name
    const std::string all = EG_CHUNK32_TYPES(EG_NAME);
#undef EG_NAME
    return all.substr(2);
}

// Row r of W (row_bytes each) decoded chunk by chunk into out[k] (host
// check of the device decoding).
inline void decode_row_by_chunks(GgmlType t, const uint8_t* row, int64_t k, float* out) {
    for (int64_t c = 0; c < k / 32; ++c) {
        switch (t) {
#define EG_CASE(name) \
    case GgmlType::name: chunk32<GgmlType::name>(row, c, out + c * 32); break;
            EG_CHUNK32_TYPES(EG_CASE)
#undef EG_CASE
            default: return;
        }
    }
}

}  // namespace eg::cuda
