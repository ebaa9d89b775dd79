// AVX2/FMA/F16C attention with the same bits as the portable reference in
// kernels_impl.h (llama.cpp's order of operations): the per-lane FMA chains
// and reduction trees of the reference are laid out across vector registers,
// lanes over head dimensions, so nothing is reassociated.
#include <immintrin.h>

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

namespace {

inline __m256 load_h8(const uint16_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)p)); }

// tree16 of lanes a (0..7) and b (8..15), the order of GCC's _mm512_reduce_add_ps.
inline float tree16_v(__m256 lo, __m256 hi) {
    const __m256 t = _mm256_add_ps(hi, lo);
    const __m128 u = _mm_add_ps(_mm256_extractf128_ps(t, 1), _mm256_castps256_ps128(t));
    // (u0 + u2) + (u1 + u3)
    const __m128 sh = _mm_movehl_ps(u, u);     // u2 u3 . .
    const __m128 v = _mm_add_ps(u, sh);         // u0+u2, u1+u3
    const __m128 w = _mm_add_ss(v, _mm_shuffle_ps(v, v, 1));
    return _mm_cvtss_f32(w);
}

// ggml_vec_dot_f16 over hd (multiple of 64): 64 lane chains, reduced (0+2)+(1+3).
inline float dot_vecdot_h(const uint16_t* x, const uint16_t* y, int64_t n) {
    __m256 a[8];
    for (int m = 0; m < 8; ++m) a[m] = _mm256_mul_ps(load_h8(x + 8 * m), load_h8(y + 8 * m));
    for (int64_t i = 64; i < n; i += 64)
        for (int m = 0; m < 8; ++m) a[m] = _mm256_fmadd_ps(load_h8(x + i + 8 * m), load_h8(y + i + 8 * m), a[m]);
    // lanes 0-7: (acc[l] + acc[l+32]) + (acc[l+16] + acc[l+48]); lanes 8-15 likewise
    const __m256 s0 = _mm256_add_ps(_mm256_add_ps(a[0], a[4]), _mm256_add_ps(a[2], a[6]));
    const __m256 s1 = _mm256_add_ps(_mm256_add_ps(a[1], a[5]), _mm256_add_ps(a[3], a[7]));
    return tree16_v(s0, s1);
}

// tinyBLAS order over hd (multiple of 16): 16 lane chains, then tree16.
inline float dot_tiled_h(const uint16_t* x, const uint16_t* y, int64_t n) {
    __m256 lo = _mm256_mul_ps(load_h8(x), load_h8(y));
    __m256 hi = _mm256_mul_ps(load_h8(x + 8), load_h8(y + 8));
    for (int64_t i = 16; i < n; i += 16) {
        lo = _mm256_fmadd_ps(load_h8(x + i), load_h8(y + i), lo);
        hi = _mm256_fmadd_ps(load_h8(x + i + 8), load_h8(y + i + 8), hi);
    }
    return tree16_v(lo, hi);
}

// exp_ggml on 8 lanes; lanes whose 2^n leaves the normal range fall back to
// the scalar reference (they only occur for results below 1e-38 or above 1e38).
inline __m256 exp_ggml_v(__m256 x) {
    const __m256 r = _mm256_set1_ps(0x1.8p23f);
    const __m256 z = _mm256_fmadd_ps(x, _mm256_set1_ps(0x1.715476p+0f), r);
    const __m256 n = _mm256_sub_ps(z, r);
    const __m256 b = _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.7f7d1cp-20f),
                                      _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.62e4p-1f), x));
    const __m256 u = _mm256_mul_ps(b, b);
    const __m256 j = _mm256_fmadd_ps(
        _mm256_fmadd_ps(_mm256_fmadd_ps(_mm256_set1_ps(0x1.0e4020p-7f), b, _mm256_set1_ps(0x1.573e2ep-5f)), u,
                        _mm256_fmadd_ps(_mm256_set1_ps(0x1.555e66p-3f), b, _mm256_set1_ps(0x1.fffdb6p-2f))),
        u, _mm256_fmadd_ps(_mm256_set1_ps(0x1.ffffecp-1f), b, _mm256_set1_ps(1.0f)));
    // 2^n exactly as a float when -126 <= n <= 127 (n is integral).
    const __m256 in_range = _mm256_and_ps(_mm256_cmp_ps(n, _mm256_set1_ps(-126.0f), _CMP_GE_OQ),
                                          _mm256_cmp_ps(n, _mm256_set1_ps(127.0f), _CMP_LE_OQ));
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    __m256 res = _mm256_mul_ps(j, _mm256_castsi256_ps(e));
    if (_mm256_movemask_ps(in_range) != 0xff) {
        alignas(32) float xs[8], rs[8], ok[8];
        _mm256_store_ps(xs, x);
        _mm256_store_ps(rs, res);
        _mm256_store_ps(ok, in_range);
        for (int l = 0; l < 8; ++l) {
            uint32_t bits;
            std::memcpy(&bits, &ok[l], 4);
            if (!bits) rs[l] = exp_ggml(xs[l]);
        }
        res = _mm256_load_ps(rs);
    }
    return res;
}

// Buffers of one thread, grown on first use (sized by context and head).
struct RowScratch {
    std::vector<uint16_t> qh, ph;
    std::vector<float, std::allocator<float>> acc;  // [64 lanes][hd]
};

void attention_row_avx2(const AttentionArgs& a, int64_t t, int64_t h, float* sc, RowScratch& rs) {
    const int64_t hd = a.head_dim;
    const int64_t g = h / (a.n_head / a.n_head_kv);
    const int64_t kv_stride = a.n_head_kv * hd;
    const int64_t n_valid = a.pos0 + t + 1;
    const int64_t n_kv = llama_kv_view_length(a);
    const bool tiled = a.n_tok >= 2;
    const float scale = 1.0f / std::sqrt((float)hd);
    uint16_t* qh = rs.qh.data();
    uint16_t* ph = rs.ph.data();

    const float* q = a.q + t * a.n_head * hd + h * hd;
    for (int64_t d = 0; d < hd; d += 8)
        _mm_storeu_si128((__m128i*)(qh + d), _mm256_cvtps_ph(_mm256_loadu_ps(q + d), _MM_FROUND_TO_NEAREST_INT));
    float mx = -INFINITY;
    const uint16_t* kb = a.k + g * hd;
    if (tiled) {
        for (int64_t j = 0; j < n_valid; ++j) sc[j] = dot_tiled_h(kb + j * kv_stride, qh, hd) * scale;
    } else {
        for (int64_t j = 0; j < n_valid; ++j) sc[j] = dot_vecdot_h(kb + j * kv_stride, qh, hd) * scale;
    }
    for (int64_t j = 0; j < n_valid; ++j) mx = sc[j] > mx ? sc[j] : mx;

    const int64_t n_chunks = (n_valid + 15) / 16;
    const __m256 vmx = _mm256_set1_ps(mx);
    double sum = 0.0;
    for (int64_t c = 0; c < n_chunks; ++c) {
        float* p = sc + c * 16;
        const int64_t valid = std::min<int64_t>(16, n_valid - c * 16);
        for (int64_t l = valid; l < 16; ++l) p[l] = -INFINITY;  // masked lanes give exactly 0
        const __m256 lo = exp_ggml_v(_mm256_sub_ps(_mm256_loadu_ps(p), vmx));
        const __m256 hi = exp_ggml_v(_mm256_sub_ps(_mm256_loadu_ps(p + 8), vmx));
        _mm256_storeu_ps(p, lo);
        _mm256_storeu_ps(p + 8, hi);
        sum += (double)tree16_v(lo, hi);
    }
    const float inv = (float)(1.0 / sum);
    const __m256 vinv = _mm256_set1_ps(inv);
    for (int64_t j = 0; j < n_chunks * 16; j += 8)
        _mm_storeu_si128((__m128i*)(ph + j), _mm256_cvtps_ph(_mm256_mul_ps(_mm256_loadu_ps(sc + j), vinv),
                                                              _MM_FROUND_TO_NEAREST_INT));

    // Values: lane accumulators acc[l][d] over positions j = l (mod lanes).
    float* out = a.out + t * a.n_head * hd + h * hd;
    const int lanes = tiled ? 16 : 64;
    const int64_t np = tiled ? n_valid : std::min<int64_t>(n_kv & ~int64_t(63), n_valid);
    float* acc = rs.acc.data();
    std::memset(acc, 0, sizeof(float) * lanes * hd);
    const uint16_t* vb = a.v + g * hd;
    for (int64_t j = 0; j < np; ++j) {
        const __m256 p = _mm256_set1_ps(_cvtsh_ss(ph[j]));
        const uint16_t* v = vb + j * kv_stride;
        float* ac = acc + (j % lanes) * hd;
        for (int64_t d = 0; d < hd; d += 8)
            _mm256_storeu_ps(ac + d, _mm256_fmadd_ps(load_h8(v + d), p, _mm256_loadu_ps(ac + d)));
    }
    for (int64_t d = 0; d < hd; d += 8) {
        auto A = [&](int l) { return _mm256_loadu_ps(acc + l * hd + d); };
        __m256 s[16];
        if (tiled) {
            for (int l = 0; l < 16; ++l) s[l] = A(l);
        } else {
            for (int l = 0; l < 16; ++l) s[l] = _mm256_add_ps(_mm256_add_ps(A(l), A(l + 32)), _mm256_add_ps(A(l + 16), A(l + 48)));
        }
        // tree16 across lanes l, vectorised over d
        __m256 tt[8], uu[4];
        for (int i = 0; i < 8; ++i) tt[i] = _mm256_add_ps(s[i + 8], s[i]);
        for (int i = 0; i < 4; ++i) uu[i] = _mm256_add_ps(tt[i + 4], tt[i]);
        const __m256 r = _mm256_add_ps(_mm256_add_ps(uu[0], uu[2]), _mm256_add_ps(uu[1], uu[3]));
        if (tiled || np == n_valid) {
            _mm256_storeu_ps(out + d, r);
        } else {
            // Leftover positions of ggml_vec_dot_f16 are summed in double.
            alignas(32) float rr[8];
            _mm256_store_ps(rr, r);
            for (int k = 0; k < 8; ++k) {
                double sd = rr[k];
                for (int64_t j = np; j < n_valid; ++j)
                    sd += (double)(_cvtsh_ss(vb[j * kv_stride + d + k]) * _cvtsh_ss(ph[j]));
                out[d + k] = (float)sd;
            }
        }
    }
}

}  // namespace
}  // namespace avx2

void attention_avx2(const AttentionArgs& a, ThreadPool& pool) {
    const int64_t n_items = a.n_tok * a.n_head;
    // The vector layout needs head_dim % 64 == 0 (the decode dot's 4 x 16 lanes);
    // other head sizes take the portable reference, which gives the same bits.
    const bool vec = a.head_dim % 64 == 0;
    pool.run([&](int ith, int nth) {
        thread_local avx2::RowScratch rs;
        const size_t n_ph = (size_t)a.scores_stride;
        if (rs.qh.size() < (size_t)a.head_dim) rs.qh.resize(a.head_dim);
        if (rs.ph.size() < n_ph) rs.ph.resize(n_ph);
        if (rs.acc.size() < (size_t)(64 * a.head_dim)) rs.acc.resize(64 * a.head_dim);
        float* sc = a.scores + (int64_t)ith * a.scores_stride;
        for (int64_t item = ith; item < n_items; item += nth) {
            const int64_t t = item / a.n_head, h = item % a.n_head;
            if (vec) avx2::attention_row_avx2(a, t, h, sc, rs);
            else avx2::attention_row(a, t, h, sc, rs.qh.data(), rs.ph.data(), rs.acc.data());
        }
    });
}

void swiglu_avx2(const float* g, const float* u, float* h, int64_t n) {
    const int64_t nv = n & ~int64_t(15);
    const __m256 one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps();
    for (int64_t i = 0; i < nv; i += 8) {
        const __m256 x = _mm256_loadu_ps(g + i);
        const __m256 e = avx2::exp_ggml_v(_mm256_sub_ps(zero, x));
        _mm256_storeu_ps(h + i, _mm256_mul_ps(_mm256_div_ps(x, _mm256_add_ps(one, e)), _mm256_loadu_ps(u + i)));
    }
    for (int64_t i = nv; i < n; ++i) h[i] = (g[i] / (1.0f + std::exp(-g[i]))) * u[i];
}

}  // namespace eg
