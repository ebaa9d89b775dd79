// Where each field of a packed block lives (packed.h describes the format),
// shared by the packer (packed.cpp) and the kernels (packed_avx512.cpp), and
// the kernels' entry points. Internal to the engine.
#pragma once

#include <cstdint>

#include "quant/types.h"

namespace eg::quant {

// A packed block covers `groups` groups of 32 elements of 16 rows: two file
// blocks of the 32-element types, one superblock of the K-quants. Fields are
// arrays over the block's groups, each starting 64-byte aligned where the
// kernels load whole vectors from them.
struct PackedLayout {
    GgmlType type;
    int groups;      // groups of 32 elements per block
    int bits;        // 4, 5, 6 or 8 bits per u
    int block_bytes;
    int q_bytes;     // per group: 256 (nibbles) or 512 (bytes), at offset 0
    int hb_off, hb_bytes;  // high bits per group (5-bit: 64, 6-bit: 128), at hb_off
    int s_off;       // per group: f16 d[16] (32 B) or i8 sc[2][16] (32 B); Q4_K/Q5_K: see k4_scales
    int m_off, m_bytes;    // per group: f16 m[16]; m_bytes 0: no min (Q4_K/Q5_K: 1, see k4_scales)
    int hdr_off;     // K-quants: f16 d[16] (and f16 -dmin[16]) per block; -1: none
    int offset;      // o of w = s * (u - o), 0 for types with a float min
    bool half;       // a scale per 16 elements
    // Q4_K/Q5_K: at s_off the file's 12 bytes of 6-bit scales and mins of
    // each row, byte b of the 16 rows together ([12][16]): the panels are no
    // larger than the file.
    bool k4_scales;
    // MXFP4: the nibbles are E2M1 codes; the kernels turn each into its value
    // doubled plus the offset 12 (u in 0..24, one byte shuffle), and s_off
    // holds the rows' E8M0 exponents, u8 e[group][16], s = 2^(e-128). Its
    // blocks (544 bytes, as the file's) leave every other one 32 bytes off
    // 64-byte alignment; AVX2 loads never straddle a line for it.
    bool e8m0 = false;

    int64_t block_elems() const { return (int64_t)groups * 32; }
};

// Every block is exactly as large as the file's blocks it holds (16 rows of
// them), so decode, which streams the weights, reads no more than the file.
inline constexpr PackedLayout kPackedLayouts[] = {
    // type           grp bits block  q   hb_off hb  s_off m_off mb  hdr  o    half   k4
    {GgmlType::Q4_0, 2, 4, 576, 256, 0, 0, 512, 0, 0, -1, 8, false, false},
    {GgmlType::Q4_1, 2, 4, 640, 256, 0, 0, 512, 576, 32, -1, 0, false, false},
    {GgmlType::Q5_0, 2, 5, 704, 256, 512, 64, 640, 0, 0, -1, 16, false, false},
    {GgmlType::Q5_1, 2, 5, 768, 256, 512, 64, 640, 704, 32, -1, 0, false, false},
    {GgmlType::Q8_0, 2, 8, 1088, 512, 0, 0, 1024, 0, 0, -1, 128, false, false},
    {GgmlType::Q4_K, 8, 4, 2304, 256, 0, 0, 2048, 0, 1, 2240, 0, false, true},
    {GgmlType::Q5_K, 8, 5, 2816, 256, 2048, 64, 2560, 0, 1, 2752, 0, false, true},
    {GgmlType::Q6_K, 8, 6, 3360, 256, 2048, 128, 3072, 0, 0, 3328, 32, true, false},
    {GgmlType::MXFP4, 2, 4, 544, 256, 0, 0, 512, 0, 0, -1, 12, false, false, true},
};

// MXFP4 codes -> u = doubled E2M1 value + 12 (kMxfp4Values in kernels_impl.h).
inline constexpr uint8_t kMxfp4U[16] = {12, 13, 14, 15, 16, 18, 20, 24, 12, 11, 10, 9, 8, 6, 4, 0};

constexpr const PackedLayout* packed_layout(GgmlType t) {
    for (const PackedLayout& L : kPackedLayouts)
        if (L.type == t) return &L;
    return nullptr;
}

// Activations for the packed kernels, per token: k int8 values (row padded to
// 64 bytes) and per group of 32 a PackedActMeta. d is the group's scale
// (x ~ d * q), dsum = d * sum(q) for the float mins, and ca/cb start the
// integer sums: -o * sum(q) over the group (ca) or over its halves (ca, cb).
struct PackedActMeta {
    float d, dsum;
    int32_t ca, cb;
};

// Bytes of one token's quantized activations (int8 row, then its metas).
inline int64_t packed_act_row_bytes(int64_t k) {
    return (k + 63) / 64 * 64 + (k / 32) * (int64_t)sizeof(PackedActMeta);
}

// Quantizes x [k] into one activation row (packed_act_row_bytes(k) at dst)
// for weights of layout L.
void packed_quantize_act(const PackedLayout& L, const float* x, int64_t k, uint8_t* dst);

// Tokens [0, nc) x panels [p0, p1) of a packed matrix: y[c * y_stride + row]
// for the panels' rows below n. act: nc activation rows, act_stride bytes apart.
void packed_gemm(const PackedLayout& L, const uint8_t* panels, int64_t panel_bytes, int64_t k, int64_t n,
                 int64_t p0, int64_t p1, const uint8_t* act, int64_t act_stride, int64_t nc, float* y,
                 int64_t y_stride);

// The two implementations behind them (packed_avx512.cpp: AVX-512 VNNI, 16
// rows a vector; packed_avx2.cpp: AVX2, 8 rows a vector), which give the same
// bits: the dispatcher picks one by the CPU (quant/dispatch.cpp).
void packed_quantize_act_avx512(const PackedLayout& L, const float* x, int64_t k, uint8_t* dst);
void packed_gemm_avx512(const PackedLayout& L, const uint8_t* panels, int64_t panel_bytes, int64_t k, int64_t n,
                        int64_t p0, int64_t p1, const uint8_t* act, int64_t act_stride, int64_t nc, float* y,
                        int64_t y_stride);
void packed_quantize_act_avx2(const PackedLayout& L, const float* x, int64_t k, uint8_t* dst);
void packed_gemm_avx2(const PackedLayout& L, const uint8_t* panels, int64_t panel_bytes, int64_t k, int64_t n,
                      int64_t p0, int64_t p1, const uint8_t* act, int64_t act_stride, int64_t nc, float* y,
                      int64_t y_stride);

}  // namespace eg::quant
