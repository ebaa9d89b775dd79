// The Engram module forward on the CPU (DESIGN.md §4, hc = 1): projections of
// the gathered rows, the query-key gate, and in the demo form the causal
// depthwise convolution over the per-sequence history of its inputs.
#include "module.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/log.h"
#include "core/thread_pool.h"
#include "cpu/ops.h"

namespace eg::engram {

namespace {

// Below this much per-position work (n_tok * n_embd floats) waking the pool
// costs more than the loop.
constexpr int64_t kParallelMinFloats = 16384;

template <class F>
void for_positions(ThreadPool& pool, int64_t n_tok, int64_t n_embd, F&& fn) {
    if (pool.size() > 1 && n_tok > 1 && n_tok * n_embd >= kParallelMinFloats) {
        pool.parallel_for(n_tok, [&](int64_t b, int64_t e) {
            for (int64_t i = b; i < e; ++i) fn(i);
        });
    } else {
        for (int64_t i = 0; i < n_tok; ++i) fn(i);
    }
}

void grow(std::vector<float>& v, size_t n, const char* what) {
    if (v.size() >= n) return;
    EG_LOG_WARN("engram module: scratch {} grows from {} to {} floats (allocate more at load)", what, v.size(), n);
    v.resize(n);
}

size_t mm_bytes(const WeightView& w, int64_t n_batch) {
    return w.data ? MatmulScratch::bytes_needed(w.type, w.k, n_batch) : 0;
}

void dump_if(const TensorDumpFn* dump, const char* name, int64_t layer, const float* data, int64_t n_tok,
             int64_t n) {
    if (dump && *dump) (*dump)(name, layer, data, n_tok, n);
}

}  // namespace

void ConvHistory::allocate(int64_t n_ctx, int64_t n_embd_) {
    n_embd = n_embd_;
    xn.assign((size_t)(std::max<int64_t>(n_ctx, 0) * n_embd_), 0.0f);
}

void ModuleScratch::allocate(const Config& c, int64_t n_embd, int64_t nb) {
    nb = std::max<int64_t>(nb, 1);
    n_batch = nb;
    const size_t rows = (size_t)(nb * n_embd);
    e.assign((size_t)(nb * c.gathered_width()), 0.0f);
    key.assign(rows, 0.0f);
    value.assign(rows, 0.0f);
    q.assign(rows, 0.0f);
    tmp.assign(rows, 0.0f);
    gate.assign((size_t)nb, 0.0f);
    if (c.form == Form::V41) {
        kv.assign(2 * rows, 0.0f);
    } else {
        kv.clear();
        kv.shrink_to_fit();
    }
    size_t need = 0;
    for (const LayerTensors& L : c.layers) {
        need = std::max({need, mm_bytes(L.wkv, nb), mm_bytes(L.key, nb), mm_bytes(L.value, nb)});
    }
    if (need) mm.reserve(need);
}

uint64_t ModuleScratch::bytes() const {
    const size_t floats = e.capacity() + key.capacity() + value.capacity() + q.capacity() + tmp.capacity() +
                          kv.capacity() + gate.capacity();
    return floats * sizeof(float) + mm.bytes();
}

void forward(const Config& c, const LayerTensors& L, int64_t n_embd, float* x, const float* e, int64_t n_tok,
             int64_t pos0, ConvHistory* conv, ModuleScratch& s, ThreadPool& pool, const TensorDumpFn* dump) {
    if (n_tok <= 0) return;
    const int64_t n = n_embd;
    const size_t rows = (size_t)(n_tok * n);
    grow(s.key, rows, "key");
    grow(s.value, rows, "value");
    grow(s.q, rows, "q");
    grow(s.tmp, rows, "tmp");
    grow(s.gate, (size_t)n_tok, "gate");

    // 1. key, value [n_tok, n_embd] from e [n_tok, E]
    if (c.form == Form::V41) {
        grow(s.kv, 2 * rows, "kv");
        matmul(L.wkv, e, n_tok, s.kv.data(), pool, s.mm);  // [n_tok, 2*n_embd]: key | value
        for (int64_t i = 0; i < n_tok; ++i) {
            const float* kv = s.kv.data() + i * 2 * n;
            std::memcpy(s.key.data() + i * n, kv, (size_t)n * sizeof(float));
            std::memcpy(s.value.data() + i * n, kv + n, (size_t)n * sizeof(float));
        }
    } else {
        matmul(L.key, e, n_tok, s.key.data(), pool, s.mm);
        matmul(L.value, e, n_tok, s.value.data(), pool, s.mm);
        for (int64_t i = 0; i < n_tok; ++i) {
            float* k = s.key.data() + i * n;
            float* v = s.value.data() + i * n;
            if (L.key_bias)
                for (int64_t j = 0; j < n; ++j) k[j] += L.key_bias[j];
            if (L.value_bias)
                for (int64_t j = 0; j < n; ++j) v[j] += L.value_bias[j];
        }
    }
    dump_if(dump, "engram_key", L.layer, s.key.data(), n_tok, n);
    dump_if(dump, "engram_value", L.layer, s.value.data(), n_tok, n);

    // The demo form keeps every position's conv input; positions past the
    // history's end would be a caller bug: grow rather than write out of bounds.
    float* hist = nullptr;
    const bool demo = c.form == Form::Demo;
    if (demo) {
        if (!conv) {
            EG_LOG_ERROR("engram module: layer {} is of the demo form but has no conv history; skipped", L.layer);
            return;
        }
        if (conv->n_embd != n || conv->n_ctx() < pos0 + n_tok) {
            EG_LOG_WARN("engram module: layer {} conv history holds {} positions of {}, needs {} of {}", L.layer,
                        conv->n_ctx(), conv->n_embd, pos0 + n_tok, n);
            if (conv->n_embd != n) conv->allocate(0, n);
            conv->xn.resize((size_t)((pos0 + n_tok) * n), 0.0f);
        }
        hist = conv->xn.data();
    }

    // 2. per position: gate, gated value, demo: conv input into the history.
    const float eps = c.norm_eps;
    for_positions(pool, n_tok, n, [&](int64_t i) {
        float* v = s.tmp.data() + i * n;  // the normalised key, then the output
        s.gate[i] = lookup_gate(x + i * n, s.key.data() + i * n, s.value.data() + i * n, L.q_norm, L.k_norm, n, eps,
                                s.q.data() + i * n, v, v);
        if (demo) rms_norm(v, L.conv_norm, hist + (pos0 + i) * n, n, eps);
    });
    dump_if(dump, "engram_gate", L.layer, s.gate.data(), n_tok, 1);

    // 3. demo: v += SiLU(causal depthwise conv of the history), dilation =
    // max_ngram: y_t[c] = sum_k w[c][k] * u_{t - (K-1-k)*dil}[c], u_{<0} = 0.
    if (demo) {
        dump_if(dump, "engram_conv_in", L.layer, hist + pos0 * n, n_tok, n);
        for_positions(pool, n_tok, n, [&](int64_t i) {
            float* y = s.q.data() + i * n;  // the normalised query is spent
            float* v = s.tmp.data() + i * n;
            lookup_conv(hist, L.conv, c.conv_kernel, c.max_ngram, pos0 + i, n, y);
            for (int64_t j = 0; j < n; ++j) v[j] += y[j];
        });
        dump_if(dump, "engram_conv", L.layer, s.q.data(), n_tok, n);
    }
    dump_if(dump, "engram_out", L.layer, s.tmp.data(), n_tok, n);

    // 4. residual
    for (size_t i = 0; i < rows; ++i) x[i] += s.tmp[i];
}

}  // namespace eg::engram
