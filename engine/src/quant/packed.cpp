// Repacking of file-format weights into the panels of packed.h (portable
// code: the layout does not depend on the instruction set, only the kernels
// that read it do).
#include "quant/packed.h"

#include <cstdlib>
#include <cstring>
#include <new>

#include "core/thread_pool.h"
#include "cpu/matmul.h"
#include "quant/kernels_impl.h"
#include "quant/packed_layout.h"

namespace eg {

PackedMatrix::~PackedMatrix() { std::free(data); }

namespace {

using quant::PackedLayout;

// One row's share of a block: the unsigned integers u of its groups and the
// scale fields as the file stores them (f16 bits, small integers).
struct RowBlock {
    uint8_t u[256];
    uint16_t d[8], m[8];  // 32-element types: per group
    uint8_t sc[16], mn[8];  // K-quants: per group (Q6_K: per 16 elements, int8 bits)
    uint16_t hd, hdmin;     // K-quants: per superblock
};

uint16_t f16_neg(uint16_t h) { return (uint16_t)(h ^ 0x8000u); }

// Decodes block b (of L.groups groups) of a file row into r.
void decode_row_block(GgmlType t, const uint8_t* row, int64_t b, RowBlock& r) {
    switch (t) {
        case GgmlType::Q4_0:
        case GgmlType::Q4_1:
        case GgmlType::Q5_0:
        case GgmlType::Q5_1:
        case GgmlType::Q8_0: {
            const int64_t bb = row_bytes(t, 32);
            for (int g = 0; g < 2; ++g) {
                const uint8_t* p = row + (b * 2 + g) * bb;
                uint8_t* u = r.u + g * 32;
                std::memcpy(&r.d[g], p, 2);
                if (t == GgmlType::Q8_0) {
                    const block_q8_0* q = (const block_q8_0*)p;
                    for (int j = 0; j < 32; ++j) u[j] = (uint8_t)(q->qs[j] ^ 0x80);
                    continue;
                }
                const bool has_m = t == GgmlType::Q4_1 || t == GgmlType::Q5_1;
                const bool five = t == GgmlType::Q5_0 || t == GgmlType::Q5_1;
                if (has_m) std::memcpy(&r.m[g], p + 2, 2);
                const uint8_t* qs = p + (has_m ? 4 : 2) + (five ? 4 : 0);
                uint32_t qh = 0;
                if (five) std::memcpy(&qh, p + (has_m ? 4 : 2), 4);
                for (int j = 0; j < 16; ++j) {
                    u[j] = (uint8_t)((qs[j] & 15) | (((qh >> j) & 1u) << 4));
                    u[j + 16] = (uint8_t)((qs[j] >> 4) | (((qh >> (j + 16)) & 1u) << 4));
                }
            }
            return;
        }
        case GgmlType::Q4_K:
        case GgmlType::Q5_K: {
            const bool five = t == GgmlType::Q5_K;
            const uint8_t* p = row + b * row_bytes(t, QK_K);
            const uint8_t* scales;
            const uint8_t* qs;
            const uint8_t* qh = nullptr;
            if (five) {
                const block_q5_K* q = (const block_q5_K*)p;
                r.hd = q->d, r.hdmin = q->dmin, scales = q->scales, qs = q->qs, qh = q->qh;
            } else {
                const block_q4_K* q = (const block_q4_K*)p;
                r.hd = q->d, r.hdmin = q->dmin, scales = q->scales, qs = q->qs;
            }
            for (int j = 0; j < 8; ++j) {
                quant::k4_scale_min(j, scales, &r.sc[j], &r.mn[j]);
                for (int l = 0; l < 32; ++l) {
                    int v = (qs[(j / 2) * 32 + l] >> (4 * (j % 2))) & 15;
                    if (qh) v |= ((qh[l] >> j) & 1) << 4;
                    r.u[j * 32 + l] = (uint8_t)v;
                }
            }
            return;
        }
        case GgmlType::Q6_K: {
            const block_q6_K* q = (const block_q6_K*)(row + b * row_bytes(t, QK_K));
            r.hd = q->d;
            for (int i = 0; i < 16; ++i) r.sc[i] = (uint8_t)q->scales[i];
            for (int e = 0; e < QK_K; ++e) {
                const int h = e / 128, s = (e / 32) % 4, l = e % 32;
                const uint8_t qlb = q->ql[h * 64 + (s & 1) * 32 + l];
                const int lo = s < 2 ? (qlb & 0x0f) : (qlb >> 4);
                const int hi = (q->qh[h * 32 + l] >> (2 * s)) & 3;
                r.u[e] = (uint8_t)(lo | (hi << 4));
            }
            return;
        }
        default: return;
    }
}

// Writes row r (0..15) of a panel block from its decoded form.
void put_row(const PackedLayout& L, const RowBlock& rb, int r, uint8_t* blk) {
    for (int g = 0; g < L.groups; ++g) {
        const uint8_t* u = rb.u + g * 32;
        uint8_t* q = blk + g * L.q_bytes;
        if (L.bits == 8) {
            for (int j = 0; j < 8; ++j)
                for (int t = 0; t < 4; ++t) q[j * 64 + r * 4 + t] = u[4 * j + t];
        } else {
            for (int j = 0; j < 4; ++j)
                for (int t = 0; t < 4; ++t)
                    q[j * 64 + r * 4 + t] = (uint8_t)((u[4 * j + t] & 15) | ((u[16 + 4 * j + t] & 15) << 4));
        }
        if (L.bits == 5) {
            uint8_t* hb = blk + L.hb_off + g * L.hb_bytes;
            for (int j = 0; j < 8; ++j)
                for (int t = 0; t < 4; ++t)
                    if ((u[4 * j + t] >> 4) & 1) {
                        const int bit = 4 * r + t;
                        hb[j * 8 + bit / 8] |= (uint8_t)(1u << (bit % 8));
                    }
        } else if (L.bits == 6) {
            uint8_t* hb = blk + L.hb_off + g * L.hb_bytes;
            for (int j = 0; j < 8; ++j)
                for (int t = 0; t < 4; ++t)
                    hb[(j / 4) * 64 + r * 4 + t] |= (uint8_t)(((u[4 * j + t] >> 4) & 3) << (2 * (j % 4)));
        }
        switch (L.type) {
            case GgmlType::Q4_K:
            case GgmlType::Q5_K:
                blk[L.s_off + g * 16 + r] = rb.sc[g];
                blk[L.m_off + g * 16 + r] = rb.mn[g];
                break;
            case GgmlType::Q6_K:
                blk[L.s_off + g * 32 + r] = rb.sc[2 * g];
                blk[L.s_off + g * 32 + 16 + r] = rb.sc[2 * g + 1];
                break;
            default:
                std::memcpy(blk + L.s_off + g * 32 + 2 * r, &rb.d[g], 2);
                if (L.m_bytes) std::memcpy(blk + L.m_off + g * 32 + 2 * r, &rb.m[g], 2);
                break;
        }
    }
    if (L.hdr_off >= 0) {
        std::memcpy(blk + L.hdr_off + 2 * r, &rb.hd, 2);
        if (L.type != GgmlType::Q6_K) {
            const uint16_t nd = f16_neg(rb.hdmin);
            std::memcpy(blk + L.hdr_off + 32 + 2 * r, &nd, 2);
        }
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
    const int64_t nblk = W.k / L.block_elems();
    auto pack_panels = [&](int64_t p0, int64_t p1) {
        RowBlock rb;
        for (int64_t p = p0; p < p1; ++p) {
            uint8_t* panel = P->data + p * P->panel_bytes;
            std::memset(panel, 0, (size_t)P->panel_bytes);
            for (int r = 0; r < PackedMatrix::kPanel; ++r) {
                const int64_t row = p * PackedMatrix::kPanel + r;
                if (row >= W.n) break;
                const uint8_t* src = W.data + row * W.row_bytes;
                for (int64_t b = 0; b < nblk; ++b) {
                    decode_row_block(W.type, src, b, rb);
                    put_row(L, rb, r, panel + b * L.block_bytes);
                }
            }
        }
    };
    if (pool && pool->size() > 1) pool->parallel_for(P->n_panels, pack_panels);
    else pack_panels(0, P->n_panels);
    return P;
}

}  // namespace eg
