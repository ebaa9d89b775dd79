// Weights repacked at load for the CPU's integer kernels: 16 rows of a matrix
// interleaved, 4 bytes of each row at a time, so that one 512-bit VNNI
// instruction multiplies 4 elements of 16 rows with 4 activations (AVX2: two
// 256-bit halves of 8 rows), and the scales of those 16 rows are one vector
// load. The file stays untouched; the
// packed copy is what the CPU backend computes from (and counts as its
// weights).
//
// Every packed type is described per group of 32 elements and row as
//   w = s * u + m     (u an unsigned integer of 4..8 bits; s, m floats)
// exactly (s, m are products of the file's f16 scales and small integers, all
// exact in f32). Types whose m is -o * s for a constant o (Q4_0: o = 8, Q5_0:
// 16, Q8_0: 128, Q6_K: 32) carry no m: the kernel starts the integer sum at
// -o * sum(x) instead. Q6_K has a scale per 16 elements (two "halves" per
// group). MXFP4's u is not its 4-bit code but a table of it (the E2M1 value
// doubled, plus o = 12: 0..24) and s = 2^(e-128), its E8M0 exponent's.
//
// Layout, per panel of 16 rows (rows past n are zero), per group of 32
// elements, in order of k:
//   nibbles [4][16 rows][4]: byte (j, r, t) = u[r][4j+t] & 15 | (u[r][16+4j+t] & 15) << 4
//   (Q8_0 instead: bytes [8][16][4] = u[r][4j+t], u = q + 128)
//   5-bit types: 8 little-endian u64 masks, bit 4r+t of mask j = bit 4 of u[r][4j+t]
//   Q6_K: two [16][4] byte vectors H0, H1, bits 2j'..2j'+1 of H(j/4) (j' = j%4)
//         byte (r, t) = bits 4..5 of u[r][4j+t]
//   scales: f16 d [16] (+ f16 m [16] for Q4_1/Q5_1); Q6_K: i8 sc [2][16];
//   MXFP4: u8 e [16] (the file's exponents; its nibbles are stored as Q4_0's);
//   Q4_K/Q5_K: the file's 12 bytes of 6-bit scales and mins, [12][16], once
//   per superblock; K-quants also f16 d [16] (and -dmin [16]) per superblock.
// Fields are arrays over a block's groups (packed_layout.h gives where), and
// a block is exactly the size of the file's blocks of its 16 rows.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "quant/types.h"
#include "quant/weight_view.h"

namespace eg {

class ThreadPool;

struct PackedMatrix {
    static constexpr int kPanel = 16;  // rows interleaved

    GgmlType type = GgmlType::F32;
    int64_t k = 0, n = 0;
    int64_t n_panels = 0;
    int64_t panel_bytes = 0;  // one panel: all of k
    uint8_t* data = nullptr;  // n_panels * panel_bytes, 64-byte aligned

    PackedMatrix() = default;
    ~PackedMatrix();
    PackedMatrix(const PackedMatrix&) = delete;
    PackedMatrix& operator=(const PackedMatrix&) = delete;

    uint64_t bytes() const { return (uint64_t)(n_panels * panel_bytes); }
    const uint8_t* panel(int64_t p) const { return data + p * panel_bytes; }
};

// True when this CPU has the packed kernels (AVX-512 VNNI, or AVX2/FMA/F16C)
// and they are not capped off (cap_kernel_isa); decided at run time.
bool packed_kernels_available();

// Bytes of the packed copy of an [n, k] matrix of type t, or -1 when the
// type has no packed form or k is not a multiple of its block size. Pure
// arithmetic (the planner uses it for machines it only imagines).
int64_t packed_bytes(GgmlType t, int64_t k, int64_t n);

// Repacks W (threads from pool when given). Null when packed_bytes() is -1
// or this CPU lacks the kernels.
std::unique_ptr<PackedMatrix> pack_weights(const WeightView& W, ThreadPool* pool);

}  // namespace eg
