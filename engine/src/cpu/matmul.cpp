// The CPU matrix product driver: quantizes activations to the weight type's
// vec_dot_type once, then splits output rows across threads and runs either
// the per-row dot product (decode, one token) or a tiled micro-kernel
// (prefill) blocked so weights stay in L1 and activations in L2.
#include "cpu/matmul.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>

#include "core/log.h"
#include "core/thread_pool.h"
#include "quant/kernels_impl.h"
#include "quant/packed.h"
#include "quant/packed_layout.h"

namespace eg {

namespace {
constexpr size_t kAlign = 64;
// Prefill blocking: 16 weight rows (<= 16 KB even for k = 4096 Q4) are reused
// across a block of 64 tokens whose quantized activations fit in L2.
constexpr int64_t kRowBlock = 16;
constexpr int64_t kTokBlock = 64;

// The output rows of one matmul, shared by the threads: Y rows [0, n) of
// n_tok tokens from quantized activations xq (x_row bytes per token).
struct RowJob {
    quant::gemm_tile_fn tile;  // null: per-row vec_dot
    vec_dot_fn dot;
    const uint8_t* w;
    int64_t wr, n, k;
    const uint8_t* xq;
    int64_t x_row, n_tok;
    float* Y;
    void run(int ith, int nth) const;
};
}  // namespace

MatmulScratch::~MatmulScratch() { std::free(data_); }

void MatmulScratch::reserve(size_t bytes) {
    if (bytes <= bytes_) return;
    const size_t rounded = (bytes + kAlign - 1) / kAlign * kAlign;
    void* p = std::aligned_alloc(kAlign, rounded);
    if (!p) throw std::bad_alloc();
    std::free(data_);
    data_ = (uint8_t*)p;
    bytes_ = rounded;
}

size_t MatmulScratch::bytes_needed(GgmlType t, int64_t k, int64_t n_tok, bool packed) {
    if (packed) return (size_t)(quant::packed_act_row_bytes(k) * n_tok);
    const TypeKernels* kt = kernels_for(t);
    if (!kt || kt->vec_dot_type == GgmlType::F32) return 0;  // F32 activations are used in place
    const int64_t rb = row_bytes(kt->vec_dot_type, k);
    return rb < 0 ? 0 : (size_t)(rb * n_tok);
}

namespace {
// Packed weights of one type and k (one matrix, or several with the same
// input): activations quantized once into the packed kernels' form, then
// the panels of 16 rows of all the matrices split across the threads.
void matmul_packed(const WeightView* const* W, float* const* Y, int count, const float* X, int64_t n_tok,
                   ThreadPool& pool, MatmulScratch& scratch) {
    const PackedMatrix& P0 = *W[0]->packed;
    const quant::PackedLayout& L = *quant::packed_layout(P0.type);
    const int64_t k = P0.k;
    const int64_t ab = quant::packed_act_row_bytes(k);
    const size_t need = (size_t)(ab * n_tok);
    if (need > scratch.bytes()) {
        EG_LOG_WARN("matmul scratch grows from {} to {} bytes (reserve more at load)", scratch.bytes(), need);
        scratch.reserve(need);
    }
    uint8_t* act = scratch.data();
    if (n_tok == 1 || pool.size() == 1) {
        for (int64_t t = 0; t < n_tok; ++t) quant::packed_quantize_act(L, X + t * k, k, act + t * ab);
    } else {
        pool.parallel_for(n_tok, [&](int64_t b, int64_t e) {
            for (int64_t t = b; t < e; ++t) quant::packed_quantize_act(L, X + t * k, k, act + t * ab);
        });
    }
    constexpr int kMax = 4;
    struct Job {
        const quant::PackedLayout& L;
        const PackedMatrix* P[kMax];
        float* Y[kMax];
        int count;
        int64_t total;  // panels of all the matrices, in order
        const uint8_t* act;
        int64_t ab, n_tok;
        void run(int ith, int nth) const {
            const int64_t per = (total + nth - 1) / nth;
            int64_t g0 = std::min(total, ith * per);
            const int64_t g1 = std::min(total, g0 + per);
            int64_t base = 0;
            for (int i = 0; i < count && g0 < g1; base += P[i]->n_panels, ++i) {
                const int64_t end = base + P[i]->n_panels;
                if (g0 >= end) continue;
                const int64_t p0 = g0 - base, p1 = std::min(g1, end) - base;
                const PackedMatrix& m = *P[i];
                quant::packed_gemm(L, m.data, m.panel_bytes, m.k, m.n, p0, p1, act, ab, n_tok, Y[i], m.n);
                g0 = base + p1;
            }
        }
    };
    Job job{L, {}, {}, count, 0, act, ab, n_tok};
    for (int i = 0; i < count; ++i) {
        job.P[i] = W[i]->packed;
        job.Y[i] = Y[i];
        job.total += W[i]->packed->n_panels;
    }
    // A few chunks per thread, so that a thread the OS delays leaves its
    // share to the others.
    const int chunks = (int)std::min<int64_t>(job.total, 4 * pool.size());
    pool.run([j = &job](int ith, int nth) { j->run(ith, nth); }, chunks);  // one pointer: no allocation
}
}  // namespace

void matmul_n(const WeightView* const* W, float* const* Y, int count, const float* X, int64_t n_tok,
              ThreadPool& pool, MatmulScratch& scratch) {
    // Packed matrices of one type run together (a Q4_K_M block's Q and K
    // while its V is Q6_K, say); the others one by one.
    bool done[4] = {};
    for (int i = 0; i < count; ++i) {
        if (i < 4 && done[i]) continue;
        const WeightView* group[4];
        float* out[4];
        int n = 0;
        for (int j = i; j < count && j < 4; ++j) {
            const bool same = W[j]->packed && W[j]->packed->n > 0 && W[i]->packed && W[j]->type == W[i]->type &&
                              W[j]->k == W[i]->k;
            if (j == i || (same && !done[j])) {
                group[n] = W[j];
                out[n++] = Y[j];
                done[j] = true;
            }
        }
        if (n > 1 && n_tok > 0) matmul_packed(group, out, n, X, n_tok, pool, scratch);
        else matmul(*W[i], X, n_tok, Y[i], pool, scratch);
    }
}

void matmul(const WeightView& W, const float* X, int64_t n_tok, float* Y, ThreadPool& pool,
            MatmulScratch& scratch) {
    const TypeKernels* kt = kernels_for(W.type);
    const int64_t x_row = kt ? row_bytes(kt->vec_dot_type, W.k) : -1;
    if (!kt || x_row < 0) {
        // The loader rejects such tensors; if one gets here, make it loud.
        EG_LOG_ERROR("matmul: no kernel for {} with k = {}", type_name((uint32_t)W.type), W.k);
        std::fill(Y, Y + W.n * n_tok, std::numeric_limits<float>::quiet_NaN());
        return;
    }
    if (n_tok <= 0 || W.n <= 0) return;
    if (W.packed) {
        const WeightView* w = &W;
        return matmul_packed(&w, &Y, 1, X, n_tok, pool, scratch);
    }

    // 1. activations -> vec_dot_type: xq [x_row bytes, n_tok]
    const uint8_t* xq;
    if (kt->vec_dot_type == GgmlType::F32) {
        xq = (const uint8_t*)X;
    } else {
        const size_t need = (size_t)(x_row * n_tok);
        if (need > scratch.bytes()) {
            EG_LOG_WARN("matmul scratch grows from {} to {} bytes (reserve more at load)", scratch.bytes(), need);
            scratch.reserve(need);
        }
        const quantize_fn q = quant::activation_quantizer(kt->vec_dot_type);
        uint8_t* dst = scratch.data();
        const int64_t k = W.k;
        if (n_tok == 1 || pool.size() == 1) {
            // one row is cheaper to quantize here than to wake the pool for
            for (int64_t t = 0; t < n_tok; ++t) q(X + t * k, dst + t * x_row, k);
        } else {
            pool.parallel_for(n_tok, [&](int64_t b, int64_t e) {
                for (int64_t t = b; t < e; ++t) q(X + t * k, dst + t * x_row, k);
            });
        }
        xq = dst;
    }

    // 2. output rows split across threads, in multiples of the tile height
    const RowJob job{quant::gemm_tile_for(W.type), kt->vec_dot, W.data, W.row_bytes, W.n, W.k, xq, x_row, n_tok, Y};
    // One pointer captured: std::function keeps it inline, so no allocation.
    pool.run([j = &job](int ith, int nth) { j->run(ith, nth); });
}

void RowJob::run(int ith, int nth) const {
    const int64_t per = ((n + nth - 1) / nth + 3) / 4 * 4;
    const int64_t r_begin = std::min(n, ith * per), r_end = std::min(n, r_begin + per);
    if (r_begin >= r_end) return;
    if (n_tok == 1 && !tile) {
        for (int64_t j = r_begin; j < r_end; ++j) Y[j] = dot(k, w + j * wr, xq);
        return;
    }
    for (int64_t r0 = r_begin; r0 < r_end; r0 += kRowBlock) {
        const int64_t nr = std::min(kRowBlock, r_end - r0);
        for (int64_t t0 = 0; t0 < n_tok; t0 += kTokBlock) {
            const int64_t nc = std::min(kTokBlock, n_tok - t0);
            if (tile) {
                tile(k, w + r0 * wr, wr, (int)nr, xq + t0 * x_row, x_row, (int)nc, Y + t0 * n + r0, n);
            } else {
                for (int64_t t = t0; t < t0 + nc; ++t)
                    for (int64_t j = r0; j < r0 + nr; ++j) Y[t * n + j] = dot(k, w + j * wr, xq + t * x_row);
            }
        }
    }
}

void dequantize_row(const WeightView& W, int64_t row, float* out) {
    const TypeKernels* kt = kernels_for(W.type);
    if (!kt) {
        std::fill(out, out + W.k, std::numeric_limits<float>::quiet_NaN());
        return;
    }
    kt->dequantize(W.data + row * W.row_bytes, out, W.k);
}

void get_rows(const WeightView& W, const int32_t* ids, int64_t n_ids, float* out) {
    for (int64_t i = 0; i < n_ids; ++i) dequantize_row(W, ids[i], out + i * W.k);
}

}  // namespace eg
