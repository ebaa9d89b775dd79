// Quantizers into IQ4_NL and IQ4_XS (engram-cli forge --type): each group of
// 32 values gets the nearest of IQ4_NL's 16 non-linear levels under a scale
// found by a small search, then the least-squares scale of that assignment.
// Our own method (no importance weights): a faithful copy for synthetic and
// forged models, not a match for llama.cpp's bytes. The grid types (IQ1..IQ3)
// have no quantizer here: a good one needs an importance matrix.
#include <cmath>
#include <cstring>

#include "core/fp16.h"
#include "quant/iq_tables.h"
#include "quant/kernels_impl.h"

namespace eg::quant {

namespace {

// Index of the level of kIq4nlValues (ascending) nearest to v.
int nearest_level(float v) {
    int lo = 0, hi = 15;
    while (hi - lo > 1) {
        const int mid = (lo + hi) / 2;
        if (v < (float)kIq4nlValues[mid]) hi = mid;
        else lo = mid;
    }
    return v - (float)kIq4nlValues[lo] <= (float)kIq4nlValues[hi] - v ? lo : hi;
}

// The scale of one group of 32 values: among scales that put the group's
// largest magnitude on one of the outer levels (or a little inside), the
// one whose nearest-level assignment, rescaled by least squares, leaves the
// smallest squared error. Returns 0 for an all-zero group.
float group_scale(const float* x, int n) {
    float amax = 0, vmax = 0;
    for (int i = 0; i < n; ++i)
        if (std::fabs(x[i]) > amax) amax = std::fabs(x[i]), vmax = x[i];
    if (amax == 0) return 0;
    float best_d = vmax / -127.0f, best_err = INFINITY;
    for (int t = -8; t <= 8; ++t) {
        // the largest value mapped to -127 + 2t (the most negative level has
        // the largest magnitude) or, other sign, to 113 + 2t
        for (float target : {-127.0f + 2.0f * (float)t, 113.0f + 2.0f * (float)t}) {
            const float id = target / vmax;
            double sxq = 0, sqq = 0;
            for (int i = 0; i < n; ++i) {
                const double q = kIq4nlValues[nearest_level(x[i] * id)];
                sxq += (double)x[i] * q;
                sqq += q * q;
            }
            if (sqq == 0) continue;
            const double d = sxq / sqq;
            double err = 0;
            for (int i = 0; i < n; ++i) {
                const double q = kIq4nlValues[nearest_level((float)(x[i] / d))];
                err += (x[i] - d * q) * (x[i] - d * q);
            }
            if (err < best_err) best_err = (float)err, best_d = (float)d;
        }
    }
    return best_d;
}

// 32 nibbles (low: values 0..15, high: 16..31) of the levels nearest x / d.
void put_nibbles(const float* x, float d, uint8_t* qs) {
    const float id = d != 0 ? 1.0f / d : 0.0f;
    for (int j = 0; j < 16; ++j)
        qs[j] = (uint8_t)(nearest_level(x[j] * id) | (nearest_level(x[j + 16] * id) << 4));
}

}  // namespace

void quant_iq4_nl(const float* src, void* dst, int64_t n) {
    block_iq4_nl* b = (block_iq4_nl*)dst;
    for (int64_t i = 0; i < n / QK4_NL; ++i, ++b, src += QK4_NL) {
        b->d = fp32_to_fp16(group_scale(src, QK4_NL));
        put_nibbles(src, fp16_to_fp32(b->d), b->qs);
    }
}

// Each 32-value group's own scale, then one f16 d for the block and 6-bit
// multiples (-32..31) of it; the nibbles are chosen for the stored scales.
void quant_iq4_xs(const float* src, void* dst, int64_t n) {
    block_iq4_xs* b = (block_iq4_xs*)dst;
    for (int64_t i = 0; i < n / QK_K; ++i, ++b, src += QK_K) {
        float ds[8], dmax = 0;
        for (int ib = 0; ib < 8; ++ib) {
            ds[ib] = group_scale(src + 32 * ib, 32);
            if (std::fabs(ds[ib]) > std::fabs(dmax)) dmax = ds[ib];
        }
        std::memset(b, 0, sizeof(*b));
        const float d = dmax / -32.0f;
        b->d = fp32_to_fp16(d);
        const float df = fp16_to_fp32(b->d);
        const float id = df != 0 ? 1.0f / df : 0.0f;
        for (int ib = 0; ib < 8; ++ib) {
            int ls = (int)std::lround(ds[ib] * id);
            ls = ls < -32 ? -32 : (ls > 31 ? 31 : ls);
            const int u = ls + 32;
            b->scales_l[ib / 2] |= (uint8_t)((u & 0x0f) << (4 * (ib % 2)));
            b->scales_h |= (uint16_t)((u >> 4) << (2 * ib));
            put_nibbles(src + 32 * ib, df * (float)ls, b->qs + 16 * ib);
        }
    }
}

}  // namespace eg::quant
