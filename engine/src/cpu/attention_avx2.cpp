// The llama.cpp-order kernels of kernels_impl.h built with AVX2/FMA/F16C:
// std::fma becomes one instruction and F16 loads use the hardware converter.
// Same bits as the portable build.
#include <immintrin.h>

#include <vector>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/fp16.h"
#include "core/thread_pool.h"
#include "cpu/ops.h"

#define EG_H2F(h) _cvtsh_ss(h)

namespace eg {
namespace avx2 {
#include "cpu/kernels_impl.h"
}  // namespace avx2

void attention_avx2(const AttentionArgs& a, ThreadPool& pool) {
    const int64_t n_items = a.n_tok * a.n_head;
    pool.run([&](int ith, int nth) {
        // Per-thread buffers: sized by head_dim and context, not per token.
        thread_local std::vector<float> acc;
        thread_local std::vector<uint16_t> qh, ph;
        if ((int64_t)acc.size() < 64 * a.head_dim) acc.resize(64 * a.head_dim);
        if ((int64_t)qh.size() < a.head_dim) qh.resize(a.head_dim);
        if ((int64_t)ph.size() < a.scores_stride) ph.resize(a.scores_stride);
        float* sc = a.scores + (int64_t)ith * a.scores_stride;
        for (int64_t item = ith; item < n_items; item += nth)
            avx2::attention_row(a, item / a.n_head, item % a.n_head, sc, qh.data(), ph.data(), acc.data());
    });
}

void swiglu_avx2(const float* g, const float* u, float* h, int64_t n) { avx2::swiglu_ggml(g, u, h, n); }

}  // namespace eg
