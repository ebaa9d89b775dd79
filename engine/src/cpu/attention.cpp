// Portable build of the llama.cpp-order kernels (kernels_impl.h) and the
// run-time choice between it and the AVX2/FMA build.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include "core/fp16.h"
#include "core/thread_pool.h"
#include "cpu/attention_flash.h"
#include "cpu/ops.h"
#include "quant/kernels.h"

namespace eg {
namespace generic {
#include "cpu/kernels_impl.h"
}  // namespace generic

namespace {
bool use_avx2() {
    static const bool yes = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                            __builtin_cpu_supports("f16c");
    return yes;
}
}  // namespace

void attention_generic(const AttentionArgs& a, ThreadPool& pool) {
    const int64_t n_items = a.n_tok * a.n_head;
    pool.run([&](int ith, int nth) {
        thread_local std::vector<float> acc;
        thread_local std::vector<uint16_t> qh, ph;
        if ((int64_t)acc.size() < 64 * a.head_dim) acc.resize(64 * a.head_dim);
        if ((int64_t)qh.size() < a.head_dim) qh.resize(a.head_dim);
        if ((int64_t)ph.size() < a.scores_stride) ph.resize(a.scores_stride);
        float* sc = a.scores + (int64_t)ith * a.scores_stride;
        for (int64_t item = ith; item < n_items; item += nth)
            generic::attention_row(a, item / a.n_head, item % a.n_head, sc, qh.data(), ph.data(), acc.data());
    });
}

bool attention_flash(const AttentionArgs& a, ThreadPool& pool, const char* isa) {
    const std::string_view want = isa;
    const bool can = want == "avx512" ? __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                                            __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl")
                                      : want == "avx2" && use_avx2();
    if (!can || a.n_head_kv <= 0 || a.n_head % a.n_head_kv != 0) return false;
    const flash::Kernel k = want == "avx512" ? flash::kernel_avx512(a.head_dim) : flash::kernel_avx2(a.head_dim);
    if (!k.attend) return false;
    flash::run(a, pool, k);
    return true;
}

void attention_windowed(const AttentionArgs& a, ThreadPool& pool) {
    const int64_t hd = a.head_dim, G = a.n_head / a.n_head_kv, kvd = a.n_head_kv * hd;
    const float scale = 1.0f / std::sqrt((float)hd);
    pool.parallel_for(a.n_tok * a.n_head, [&](int64_t b, int64_t e) {
        // Per thread, kept between calls: a decode step allocates nothing
        // once the buffers have reached the context's length.
        thread_local std::vector<float> sc, acc;
        acc.resize((size_t)hd);
        for (int64_t item = b; item < e; ++item) {
            const int64_t t = item / a.n_head, h = item % a.n_head, g = h / G;
            const int64_t last = a.pos0 + t, first = a.window > 0 ? std::max<int64_t>(0, last + 1 - a.window) : 0;
            const float* q = a.q + (t * a.n_head + h) * hd;
            sc.assign((size_t)(last + 1 - first), 0.0f);
            float m = a.sinks ? a.sinks[h] : -INFINITY;
            for (int64_t j = first; j <= last; ++j) {
                const uint16_t* k = a.k + j * kvd + g * hd;
                float s = 0;
                for (int64_t d = 0; d < hd; ++d) s += q[d] * fp16_to_fp32(k[d]);
                s *= scale;
                if (a.softcap > 0) s = a.softcap * std::tanh(s / a.softcap);
                sc[(size_t)(j - first)] = s;
                m = std::max(m, s);
            }
            float l = a.sinks ? std::exp(a.sinks[h] - m) : 0.0f;
            std::fill(acc.begin(), acc.end(), 0.0f);
            for (int64_t j = first; j <= last; ++j) {
                const float p = std::exp(sc[(size_t)(j - first)] - m);
                l += p;
                const uint16_t* v = a.v + j * kvd + g * hd;
                for (int64_t d = 0; d < hd; ++d) acc[d] += p * fp16_to_fp32(v[d]);
            }
            float* out = a.out + (t * a.n_head + h) * hd;
            for (int64_t d = 0; d < hd; ++d) out[d] = acc[d] / l;
        }
    });
}

void attention(const AttentionArgs& a, ThreadPool& pool) {
    // The kernels follow the matmul's instruction set (and its
    // ENGRAM_CPU_ISA cap).
    const std::string_view isa = cpu_kernel_isa();
    // Neither the flash nor the llama.cpp-order kernels soft-cap.
    if (a.softcap > 0) return attention_windowed(a, pool);
    if (isa == "avx512vnni" && attention_flash(a, pool, "avx512")) return;
    if (isa != "scalar" && attention_flash(a, pool, "avx2")) return;
    // The llama.cpp-order kernels know neither windows nor sinks.
    if (a.window > 0 || a.sinks) return attention_windowed(a, pool);
    if (use_avx2()) attention_avx2(a, pool);
    else attention_generic(a, pool);
}

void swiglu_generic(const float* g, const float* u, float* h, int64_t n) { generic::swiglu_ggml(g, u, h, n); }

void silu_mul(const float* g, const float* u, float* h, int64_t n) {
    if (use_avx2()) swiglu_avx2(g, u, h, n);
    else swiglu_generic(g, u, h, n);
}

}  // namespace eg
