// Decoding of GGUF quantized blocks, 32 values at a time, for the CUDA
// kernels and, compiled as plain C++, for the tests that check it against
// quant/dequant.cpp on any machine (no GPU needed). Every supported type
// splits a row into chunks of 32 consecutive values: Q4_0/Q4_1/Q8_0 one
// block; Q4_K/Q5_K/Q6_K one of the 8 sub-blocks of a 256-value block;
// F16/F32 32 values. Same element order, scales and offsets as dequant.cpp.
#pragma once

#include <cstdint>
#include <cstring>

#include "core/fp16.h"
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

// Whether chunk32 has a specialization for t.
inline bool chunk32_supported(GgmlType t) {
    switch (t) {
        case GgmlType::F32: case GgmlType::F16: case GgmlType::Q4_0: case GgmlType::Q4_1: case GgmlType::Q8_0:
        case GgmlType::Q4_K: case GgmlType::Q5_K: case GgmlType::Q6_K: return true;
        default: return false;
    }
}

// Row r of W (row_bytes each) decoded chunk by chunk into out[k] (host
// check of the device decoding).
inline void decode_row_by_chunks(GgmlType t, const uint8_t* row, int64_t k, float* out) {
    for (int64_t c = 0; c < k / 32; ++c) {
        switch (t) {
            case GgmlType::F32: chunk32<GgmlType::F32>(row, c, out + c * 32); break;
            case GgmlType::F16: chunk32<GgmlType::F16>(row, c, out + c * 32); break;
            case GgmlType::Q4_0: chunk32<GgmlType::Q4_0>(row, c, out + c * 32); break;
            case GgmlType::Q4_1: chunk32<GgmlType::Q4_1>(row, c, out + c * 32); break;
            case GgmlType::Q8_0: chunk32<GgmlType::Q8_0>(row, c, out + c * 32); break;
            case GgmlType::Q4_K: chunk32<GgmlType::Q4_K>(row, c, out + c * 32); break;
            case GgmlType::Q5_K: chunk32<GgmlType::Q5_K>(row, c, out + c * 32); break;
            case GgmlType::Q6_K: chunk32<GgmlType::Q6_K>(row, c, out + c * 32); break;
            default: return;
        }
    }
}

}  // namespace eg::cuda
