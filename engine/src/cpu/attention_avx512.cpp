// Causal attention over the F16 KV cache in one pass per query (flash-style,
// online softmax), for CPUs with AVX-512: per query token and KV head, the
// positions go by in blocks of 16; each block's K and V rows are converted to
// F32 once and used by every query head that shares them (GQA), scores are
// exact F32 dot products, and the running maximum, sum and output of each
// head are rescaled as blocks arrive. Nothing is rounded to F16 but the cache
// itself. A single query over a long context (decode) is also split by
// position across the threads, and the partial results merged.
//
// Compiled with AVX-512 F/BW/VL/DQ (file name suffix); attention() calls it
// only where the CPU has them and head_dim is a multiple of 16 up to 256.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "core/thread_pool.h"
#include "cpu/ops.h"

#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // GCC 12's _mm512_undefined_* in its own headers

namespace eg {
namespace {

constexpr int kBlock = 16;          // positions per block
constexpr int64_t kMinSplit = 256;  // positions per part when one query is split

// exp(x) for x <= 0 (x = -inf gives 0): 2^n * p(r) with a degree-6
// polynomial, n = round(x / ln 2); relative error ~2 ulp.
inline __m512 exp_neg(__m512 x) {
    x = _mm512_max_ps(x, _mm512_set1_ps(-104.0f));  // exp(-104) rounds to 0
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.428606765330187045e-06f), r);
    __m512 p = _mm512_set1_ps(1.0f / 720.0f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

// Lane i of the result = the sum of the 16 lanes of a[i].
inline __m512 transpose_sum16(__m512 a[16]) {
    __m512 x[8], y[4], z[2];
    for (int i = 0; i < 8; ++i)
        x[i] = _mm512_add_ps(_mm512_unpacklo_ps(a[2 * i], a[2 * i + 1]), _mm512_unpackhi_ps(a[2 * i], a[2 * i + 1]));
    for (int i = 0; i < 4; ++i) {
        const __m512d u = _mm512_castps_pd(x[2 * i]), v = _mm512_castps_pd(x[2 * i + 1]);
        y[i] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(u, v)), _mm512_castpd_ps(_mm512_unpackhi_pd(u, v)));
    }
    for (int i = 0; i < 2; ++i)
        z[i] = _mm512_add_ps(_mm512_shuffle_f32x4(y[2 * i], y[2 * i + 1], 0x88),
                             _mm512_shuffle_f32x4(y[2 * i], y[2 * i + 1], 0xdd));
    return _mm512_add_ps(_mm512_shuffle_f32x4(z[0], z[1], 0x88), _mm512_shuffle_f32x4(z[0], z[1], 0xdd));
}

// The running state of one query head over the positions seen so far.
struct HeadState {
    float m, l;  // maximum score, sum of exp(score - m)
};

// Buffers of one thread, grown on first use.
struct Scratch {
    std::vector<float> kf, vf, q;
};

// Positions [j0, j1) for query token t and the heads of KV head g: updates
// st[G] and o[G][hd] (o in units of the running maximum).
template <int NC>
void attend(const AttentionArgs& a, int64_t t, int64_t g, int64_t j0, int64_t j1, HeadState* st, float* o,
            Scratch& s) {
    constexpr int64_t hd = NC * 16;
    const int64_t G = a.n_head / a.n_head_kv;
    const int64_t kv_stride = a.n_head_kv * hd;
    const float scale = 1.0f / std::sqrt((float)hd);
    float* q = s.q.data();
    for (int64_t h = 0; h < G; ++h) {
        const float* src = a.q + (t * a.n_head + g * G + h) * hd;
        for (int c = 0; c < NC; ++c)
            _mm512_storeu_ps(q + h * hd + 16 * c, _mm512_mul_ps(_mm512_loadu_ps(src + 16 * c), _mm512_set1_ps(scale)));
    }
    float* kf = s.kf.data();
    float* vf = s.vf.data();
    alignas(64) float p[kBlock];
    for (int64_t jb = j0; jb < j1; jb += kBlock) {
        const int nb = (int)std::min<int64_t>(kBlock, j1 - jb);
        for (int i = 0; i < kBlock; ++i) {
            const int64_t j = jb + std::min(i, nb - 1);  // past the end: a copy, masked below
            const uint16_t* kr = a.k + j * kv_stride + g * hd;
            const uint16_t* vr = a.v + j * kv_stride + g * hd;
            for (int c = 0; c < NC; ++c) {
                _mm512_storeu_ps(kf + i * hd + 16 * c, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i*)(kr + 16 * c))));
                _mm512_storeu_ps(vf + i * hd + 16 * c, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i*)(vr + 16 * c))));
            }
        }
        const __mmask16 valid = (__mmask16)((1u << nb) - 1u);
        for (int64_t h = 0; h < G; ++h) {
            __m512 qv[NC];
            for (int c = 0; c < NC; ++c) qv[c] = _mm512_loadu_ps(q + h * hd + 16 * c);
            __m512 acc[kBlock];
            for (int i = 0; i < kBlock; ++i) {
                __m512 d = _mm512_mul_ps(qv[0], _mm512_loadu_ps(kf + i * hd));
                for (int c = 1; c < NC; ++c) d = _mm512_fmadd_ps(qv[c], _mm512_loadu_ps(kf + i * hd + 16 * c), d);
                acc[i] = d;
            }
            const __m512 sc = _mm512_mask_blend_ps(valid, _mm512_set1_ps(-INFINITY), transpose_sum16(acc));
            HeadState& hs = st[h];
            const float mnew = std::max(hs.m, _mm512_reduce_max_ps(sc));
            const __m512 pv = _mm512_maskz_mov_ps(valid, exp_neg(_mm512_sub_ps(sc, _mm512_set1_ps(mnew))));
            const float c = std::exp(hs.m - mnew);  // 0 for the first block (m = -inf)
            hs.l = hs.l * c + _mm512_reduce_add_ps(pv);
            hs.m = mnew;
            _mm512_store_ps(p, pv);
            float* oh = o + h * hd;
            __m512 ov[NC];
            for (int cc = 0; cc < NC; ++cc) ov[cc] = _mm512_mul_ps(_mm512_loadu_ps(oh + 16 * cc), _mm512_set1_ps(c));
            for (int i = 0; i < nb; ++i) {
                const __m512 pi = _mm512_set1_ps(p[i]);
                for (int cc = 0; cc < NC; ++cc) ov[cc] = _mm512_fmadd_ps(pi, _mm512_loadu_ps(vf + i * hd + 16 * cc), ov[cc]);
            }
            for (int cc = 0; cc < NC; ++cc) _mm512_storeu_ps(oh + 16 * cc, ov[cc]);
        }
    }
}

using attend_fn = void (*)(const AttentionArgs&, int64_t, int64_t, int64_t, int64_t, HeadState*, float*, Scratch&);

template <int NC>
attend_fn pick(int nc) {
    if constexpr (NC > 1) {
        if (nc < NC) return pick<NC - 1>(nc);
    }
    return attend<NC>;
}

}  // namespace

bool attention_avx512_supports(const AttentionArgs& a) {
    return a.head_dim % 16 == 0 && a.head_dim <= 256 && a.n_head % a.n_head_kv == 0;
}

void attention_avx512(const AttentionArgs& a, ThreadPool& pool) {
    const int64_t hd = a.head_dim, G = a.n_head / a.n_head_kv;
    const attend_fn fn = pick<16>((int)(hd / 16));
    // Parts per (token, KV head): one, unless a lone query would leave
    // threads idle over a long context.
    const int64_t n_ctx_used = a.pos0 + a.n_tok;
    int64_t parts = 1;
    if (a.n_tok == 1 && pool.size() > 1) {
        const int64_t want = (4 * pool.size() + a.n_head_kv - 1) / a.n_head_kv;
        parts = std::clamp<int64_t>(n_ctx_used / kMinSplit, 1, want);
    }
    const int64_t n_items = a.n_tok * a.n_head_kv * parts;
    // Partial results of split queries: per item G states and G x hd outputs.
    thread_local std::vector<float> partial;
    const int64_t per_item = G * (hd + 2);
    if (parts > 1 && (int64_t)partial.size() < n_items * per_item) partial.resize((size_t)(n_items * per_item));
    float* part = partial.data();

    const int n_chunks = (int)std::min<int64_t>(n_items, 4 * pool.size());
    pool.run(
        [&](int ci, int nc) {
            thread_local Scratch s;
            if ((int64_t)s.kf.size() < kBlock * hd) {
                s.kf.resize(kBlock * hd);
                s.vf.resize(kBlock * hd);
            }
            if ((int64_t)s.q.size() < G * hd) s.q.resize(G * hd);
            thread_local std::vector<float> own;
            if ((int64_t)own.size() < per_item) own.resize(per_item);
            for (int64_t item = ci; item < n_items; item += nc) {
                const int64_t t = item / (a.n_head_kv * parts), g = (item / parts) % a.n_head_kv, pi = item % parts;
                const int64_t n_valid = a.pos0 + t + 1;
                const int64_t per = (n_valid + parts - 1) / parts;
                const int64_t j0 = std::min(n_valid, pi * per), j1 = std::min(n_valid, j0 + per);
                float* buf = parts > 1 ? part + item * per_item : own.data();
                HeadState* st = (HeadState*)buf;
                float* o = buf + 2 * G;
                for (int64_t h = 0; h < G; ++h) st[h] = {-INFINITY, 0.0f};
                std::fill(o, o + G * hd, 0.0f);
                if (j0 < j1) fn(a, t, g, j0, j1, st, o, s);
                if (parts > 1) continue;
                for (int64_t h = 0; h < G; ++h) {
                    float* out = a.out + (t * a.n_head + g * G + h) * hd;
                    const float inv = 1.0f / st[h].l;
                    for (int64_t d = 0; d < hd; ++d) out[d] = o[h * hd + d] * inv;
                }
            }
        },
        n_chunks);
    if (parts == 1) return;
    // Merge the parts of each (token, KV head): rescale to the largest maximum.
    for (int64_t tg = 0; tg < a.n_tok * a.n_head_kv; ++tg) {
        const int64_t t = tg / a.n_head_kv, g = tg % a.n_head_kv;
        for (int64_t h = 0; h < G; ++h) {
            float m = -INFINITY;
            for (int64_t pi = 0; pi < parts; ++pi) m = std::max(m, ((HeadState*)(part + (tg * parts + pi) * per_item))[h].m);
            float* out = a.out + (t * a.n_head + g * G + h) * hd;
            std::fill(out, out + hd, 0.0f);
            float l = 0;
            for (int64_t pi = 0; pi < parts; ++pi) {
                const float* buf = part + (tg * parts + pi) * per_item;
                const HeadState& hs = ((const HeadState*)buf)[h];
                if (hs.l == 0) continue;  // an empty part
                const float c = std::exp(hs.m - m);
                l += hs.l * c;
                const float* o = buf + 2 * G + h * hd;
                for (int64_t d = 0; d < hd; ++d) out[d] += o[d] * c;
            }
            const float inv = 1.0f / l;
            for (int64_t d = 0; d < hd; ++d) out[d] *= inv;
        }
    }
}

}  // namespace eg
