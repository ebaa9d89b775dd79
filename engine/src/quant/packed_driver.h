// What the AVX2 and AVX-512 packed kernels share around their tiles: the
// choice of a tile for a type and a token count, the loop over token blocks,
// panels and tiles, and the integer starts of an activation group. In an
// anonymous namespace on purpose: each including file is built for another
// instruction set (see x86_tiles.h). Include after defining
//   template <GgmlType T, int C> void tile(const uint8_t* panel, int64_t nblk,
//       const uint8_t* act, int64_t act_stride, int64_t meta_off, float* y,
//       int64_t y_stride, int nr);
// and kMaxTile (tokens per tile).
#pragma once

#include <algorithm>
#include <cstdint>

#include "quant/packed.h"
#include "quant/packed_layout.h"

namespace eg::quant {
namespace {

using tile_fn = void (*)(const uint8_t*, int64_t, const uint8_t*, int64_t, int64_t, float*, int64_t, int);

template <GgmlType T, int C>
tile_fn pick(int cc) {
    if constexpr (C > 1) {
        if (cc < C) return pick<T, C - 1>(cc);
    }
    return tile<T, C>;
}

tile_fn pick_tile(GgmlType t, int cc) {
    switch (t) {
        case GgmlType::Q4_0: return pick<GgmlType::Q4_0, kMaxTile>(cc);
        case GgmlType::Q4_1: return pick<GgmlType::Q4_1, kMaxTile>(cc);
        case GgmlType::Q5_0: return pick<GgmlType::Q5_0, kMaxTile>(cc);
        case GgmlType::Q5_1: return pick<GgmlType::Q5_1, kMaxTile>(cc);
        case GgmlType::Q8_0: return pick<GgmlType::Q8_0, kMaxTile>(cc);
        case GgmlType::Q4_K: return pick<GgmlType::Q4_K, kMaxTile>(cc);
        case GgmlType::Q5_K: return pick<GgmlType::Q5_K, kMaxTile>(cc);
        case GgmlType::Q6_K: return pick<GgmlType::Q6_K, kMaxTile>(cc);
        case GgmlType::MXFP4: return pick<GgmlType::MXFP4, kMaxTile>(cc);
        default: return nullptr;
    }
}

// Tokens [0, nc) x panels [p0, p1) (packed_layout.h, packed_gemm).
void drive_gemm(const PackedLayout& L, const uint8_t* panels, int64_t panel_bytes, int64_t k, int64_t n, int64_t p0,
                int64_t p1, const uint8_t* act, int64_t act_stride, int64_t nc, float* y, int64_t y_stride) {
    const int64_t nblk = k / L.block_elems();
    const int64_t meta_off = (k + 63) / 64 * 64;
    // Tokens in blocks whose activations stay in L2 while the panels stream
    // past them once per block.
    const int64_t tb = std::clamp<int64_t>((int64_t)(384 * 1024) / act_stride / kMaxTile * kMaxTile, kMaxTile, 256);
    const tile_fn full = pick_tile(L.type, kMaxTile);
    for (int64_t t0 = 0; t0 < nc; t0 += tb) {
        const int64_t t1 = std::min(nc, t0 + tb);
        for (int64_t p = p0; p < p1; ++p) {
            const int64_t r0 = p * PackedMatrix::kPanel;
            const int nr = (int)std::min<int64_t>(PackedMatrix::kPanel, n - r0);
            const uint8_t* panel = panels + p * panel_bytes;
            for (int64_t c0 = t0; c0 < t1; c0 += kMaxTile) {
                const int cc = (int)std::min<int64_t>(kMaxTile, t1 - c0);
                (cc == kMaxTile ? full : pick_tile(L.type, cc))(panel, nblk, act + c0 * act_stride, act_stride,
                                                                  meta_off, y + c0 * y_stride + r0, y_stride, nr);
            }
        }
    }
}

// The metadata of an activation group of scale d whose halves sum to xa, xb.
inline void fill_meta(const PackedLayout& L, PackedActMeta& m, float d, int32_t xa, int32_t xb) {
    m.d = d;
    m.dsum = d * (float)(xa + xb);
    if (L.half) {
        m.ca = -L.offset * xa;
        m.cb = -L.offset * xb;
    } else {
        m.ca = -L.offset * (xa + xb);
        m.cb = 0;
    }
}

}  // namespace
}  // namespace eg::quant
