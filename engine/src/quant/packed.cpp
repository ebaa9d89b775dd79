// Repacking of file-format weights into the panels of packed.h (portable
// code: the layout does not depend on the instruction set, only the kernels
// that read it do).
#include "quant/packed.h"

#include <sys/mman.h>

#include <cstdlib>
#include <cstring>
#include <new>

#include "core/thread_pool.h"
#include "quant/kernels_impl.h"
#include "quant/packed_layout.h"

namespace eg {

PackedMatrix::~PackedMatrix() { std::free(data); }

namespace {

using quant::PackedLayout;

inline uint32_t load32(const uint8_t* p) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
}
inline void store32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); }
// Bit 0 of each byte of x -> bits 0..3 (byte i -> bit i).
inline uint32_t gather_bits(uint32_t x) { return ((x & 0x01010101u) * 0x01020408u) >> 24 & 15u; }

// One group of 32 elements of one row as the packed panels want it: the
// nibble words (byte t of word j: element 4j+t's low 4 bits, element
// 16+4j+t's above them; Q8_0: 8 words of whole bytes), and the bits above
// the nibbles (5-bit: bit 4 of elements 4j..4j+3 in mask nibble j; 6-bit:
// bits 4-5 of byte t of word j). Written into row r of a block's group g.
struct GroupBits {
    uint32_t w[8];
    uint32_t high[8];
};

void put_group(const PackedLayout& L, const GroupBits& gb, int g, int r, uint8_t* blk) {
    uint8_t* q = blk + g * L.q_bytes + 4 * r;
    for (int j = 0; j < (L.bits == 8 ? 8 : 4); ++j) store32(q + 64 * j, gb.w[j]);
    if (L.bits == 5) {
        uint8_t* hb = blk + L.hb_off + g * L.hb_bytes;
        for (int j = 0; j < 8; ++j) {
            uint64_t m;
            std::memcpy(&m, hb + 8 * j, 8);
            m |= (uint64_t)gb.high[j] << (4 * r);
            std::memcpy(hb + 8 * j, &m, 8);
        }
    } else if (L.bits == 6) {
        uint8_t* hb = blk + L.hb_off + g * L.hb_bytes + 4 * r;
        uint32_t h0 = 0, h1 = 0;
        for (int j = 0; j < 4; ++j) h0 |= gb.high[j] << (2 * j);
        for (int j = 4; j < 8; ++j) h1 |= gb.high[j] << (2 * (j - 4));
        store32(hb, h0);
        store32(hb + 64, h1);
    }
}

// Packs block b (L.groups groups) of a file row into row r of a panel block.
void pack_row_block(const PackedLayout& L, const uint8_t* row, int64_t b, int r, uint8_t* blk) {
    GroupBits gb{};
    switch (L.type) {
        case GgmlType::Q4_0:
        case GgmlType::Q4_1:
        case GgmlType::Q5_0:
        case GgmlType::Q5_1:
        case GgmlType::Q8_0: {
            const bool has_m = L.m_bytes > 0, five = L.bits == 5;
            const int64_t bb = row_bytes(L.type, 32);
            for (int g = 0; g < 2; ++g) {
                const uint8_t* p = row + (b * 2 + g) * bb;
                std::memcpy(blk + L.s_off + g * 32 + 2 * r, p, 2);  // d (f16)
                if (has_m) std::memcpy(blk + L.m_off + g * 32 + 2 * r, p + 2, 2);
                const uint8_t* qs = p + (has_m ? 4 : 2) + (five ? 4 : 0);
                if (L.bits == 8) {
                    for (int j = 0; j < 8; ++j) gb.w[j] = load32(qs + 4 * j) ^ 0x80808080u;  // u = q + 128
                } else {
                    // the file's nibbles are already paired as the panels pair them
                    for (int j = 0; j < 4; ++j) gb.w[j] = load32(qs + 4 * j);
                }
                if (five) {
                    const uint32_t qh = load32(p + (has_m ? 4 : 2));
                    for (int j = 0; j < 8; ++j) gb.high[j] = (qh >> (4 * j)) & 15u;
                }
                put_group(L, gb, g, r, blk);
            }
            return;
        }
        case GgmlType::Q4_K:
        case GgmlType::Q5_K: {
            const bool five = L.type == GgmlType::Q5_K;
            const uint8_t* p = row + b * row_bytes(L.type, QK_K);
            // both blocks start d, dmin, scales[12]; Q5_K has qh[32] before qs
            const uint8_t* scales = p + 4;
            const uint8_t* qh = five ? p + 16 : nullptr;
            const uint8_t* qs = p + (five ? 48 : 16);
            std::memcpy(blk + L.hdr_off + 2 * r, p, 2);
            uint16_t dmin;
            std::memcpy(&dmin, p + 2, 2);
            dmin ^= 0x8000;  // -dmin, exactly
            std::memcpy(blk + L.hdr_off + 32 + 2 * r, &dmin, 2);
            for (int i = 0; i < 12; ++i) blk[L.s_off + i * 16 + r] = scales[i];
            for (int g = 0; g < 8; ++g) {
                const uint8_t* c = qs + (g / 2) * 32;
                const int sh = 4 * (g % 2);
                for (int j = 0; j < 4; ++j)
                    gb.w[j] = ((load32(c + 4 * j) >> sh) & 0x0F0F0F0Fu) | ((load32(c + 16 + 4 * j) >> sh) & 0x0F0F0F0Fu) << 4;
                if (five)
                    for (int j = 0; j < 8; ++j) gb.high[j] = gather_bits(load32(qh + 4 * j) >> g);
                put_group(L, gb, g, r, blk);
            }
            return;
        }
        case GgmlType::MXFP4: {
            // the file's nibbles are paired as the panels pair them, like Q4_0
            for (int g = 0; g < 2; ++g) {
                const block_mxfp4* p = (const block_mxfp4*)(row + (b * 2 + g) * (int64_t)sizeof(block_mxfp4));
                blk[L.s_off + g * 16 + r] = p->e;
                for (int j = 0; j < 4; ++j) gb.w[j] = load32(p->qs + 4 * j);
                put_group(L, gb, g, r, blk);
            }
            return;
        }
        case GgmlType::Q6_K: {
            const block_q6_K* q = (const block_q6_K*)(row + b * row_bytes(L.type, QK_K));
            std::memcpy(blk + L.hdr_off + 2 * r, &q->d, 2);
            for (int g = 0; g < 8; ++g) {
                blk[L.s_off + g * 32 + r] = (uint8_t)q->scales[2 * g];
                blk[L.s_off + g * 32 + 16 + r] = (uint8_t)q->scales[2 * g + 1];
                // element e = h*128 + s*32 + l: nibble (s < 2: low, else high)
                // of ql[h*64 + (s&1)*32 + l]; bits 4-5 at shift 2s of qh[h*32 + l]
                const int h = g / 4, s = g % 4;
                const uint8_t* ql = q->ql + h * 64 + (s & 1) * 32;
                const uint8_t* qh = q->qh + h * 32;
                const int nsh = s < 2 ? 0 : 4;
                for (int j = 0; j < 4; ++j)
                    gb.w[j] = ((load32(ql + 4 * j) >> nsh) & 0x0F0F0F0Fu) |
                              ((load32(ql + 16 + 4 * j) >> nsh) & 0x0F0F0F0Fu) << 4;
                for (int j = 0; j < 8; ++j) gb.high[j] = (load32(qh + 4 * j) >> (2 * s)) & 0x03030303u;
                put_group(L, gb, g, r, blk);
            }
            return;
        }
        default: return;
    }
}

}  // namespace

int64_t packed_bytes(GgmlType t, int64_t k, int64_t n) {
    const PackedLayout* L = quant::packed_layout(t);
    if (!L || k <= 0 || n <= 0 || k % L->block_elems() != 0) return -1;
    const int64_t panels = (n + PackedMatrix::kPanel - 1) / PackedMatrix::kPanel;
    return panels * (k / L->block_elems()) * L->block_bytes;
}

std::unique_ptr<PackedMatrix> pack_weights(const WeightView& W, ThreadPool* pool) {
    const int64_t bytes = packed_bytes(W.type, W.k, W.n);
    if (bytes < 0 || !packed_kernels_available() || !W.data) return nullptr;
    const PackedLayout& L = *quant::packed_layout(W.type);
    auto P = std::make_unique<PackedMatrix>();
    P->type = W.type;
    P->k = W.k;
    P->n = W.n;
    P->n_panels = (W.n + PackedMatrix::kPanel - 1) / PackedMatrix::kPanel;
    P->panel_bytes = (W.k / L.block_elems()) * L.block_bytes;
    P->data = (uint8_t*)std::aligned_alloc(64, (size_t)bytes);
    if (!P->data) throw std::bad_alloc();
    // Decode streams every byte once per token: 2 MiB pages spare the TLB
    // (the page walks) where the kernel allows them on request. Only the
    // whole huge pages inside the buffer; nothing is allocated for it.
    constexpr uintptr_t kHuge = 2u << 20;
    const uintptr_t hb = ((uintptr_t)P->data + kHuge - 1) / kHuge * kHuge;
    const uintptr_t he = ((uintptr_t)P->data + (uintptr_t)bytes) / kHuge * kHuge;
    if (he > hb) ::madvise((void*)hb, he - hb, MADV_HUGEPAGE);
    const int64_t nblk = W.k / L.block_elems();
    auto pack_panels = [&](int64_t p0, int64_t p1) {
        for (int64_t p = p0; p < p1; ++p) {
            uint8_t* panel = P->data + p * P->panel_bytes;
            std::memset(panel, 0, (size_t)P->panel_bytes);
            for (int64_t b = 0; b < nblk; ++b)
                for (int r = 0; r < PackedMatrix::kPanel; ++r) {
                    const int64_t row = p * PackedMatrix::kPanel + r;
                    if (row >= W.n) break;
                    pack_row_block(L, W.data + row * W.row_bytes, b, r, panel + b * L.block_bytes);
                }
        }
    };
    if (pool && pool->size() > 1) pool->parallel_for(P->n_panels, pack_panels);
    else pack_panels(0, P->n_panels);
    return P;
}

}  // namespace eg
