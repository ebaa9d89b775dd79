#include "cpu/ops.h"

#include <algorithm>
#include <cmath>

#include "core/fp16.h"
#include "core/thread_pool.h"
#include "cpu/simd.h"

namespace eg {

float lookup_gate(const float* x, const float* key, const float* value, const float* q_norm, const float* k_norm,
                  int64_t n, float eps, float* qn, float* kn, float* out) {
    rms_norm(x, q_norm, qn, n, eps);
    rms_norm(key, k_norm, kn, n, eps);
    double dot = 0;
    for (int64_t j = 0; j < n; ++j) dot += (double)qn[j] * (double)kn[j];
    const double s = dot * (1.0 / std::sqrt((double)n));
    const double mag = std::sqrt(std::max(std::fabs(s), 1e-6));
    const double z = s > 0 ? mag : (s < 0 ? -mag : 0.0);  // torch.sign(0) = 0: g = 1/2
    const float g = (float)(1.0 / (1.0 + std::exp(-z)));
    for (int64_t j = 0; j < n; ++j) out[j] = g * value[j];
    return g;
}

void lookup_conv(const float* hist, const float* w, int64_t K, int64_t dil, int64_t t, int64_t n, float* y) {
    for (int64_t c = 0; c < n; ++c) {
        const float* wc = w + c * K;
        float acc = 0.0f;
        for (int64_t k = 0; k < K; ++k) {
            const int64_t p = t - (K - 1 - k) * dil;
            if (p >= 0) acc += wc[k] * hist[p * n + c];
        }
        y[c] = acc / (1.0f + std::exp(-acc));
    }
}

void gelu_mul(const float* g, const float* u, float* h, int64_t n) {
    // The tanh form in float32, as written (ggml's CPU reads it from an F16
    // table of its input instead: an input rounding of 2^-11 that this skips).
    constexpr float kSqrt2OverPi = 0.79788456080286535588f, kA = 0.044715f;
    for (int64_t i = 0; i < n; ++i) {
        const float x = g[i];
        h[i] = 0.5f * x * (1.0f + std::tanh(kSqrt2OverPi * x * (1.0f + kA * x * x))) * u[i];
    }
}

void scale(float* x, int64_t n, float c) {
    for (int64_t i = 0; i < n; ++i) x[i] *= c;
}

void softcap(float* x, int64_t n, float c) {
    const float inv = 1.0f / c;
    for (int64_t i = 0; i < n; ++i) x[i] = c * std::tanh(x[i] * inv);
}

void rms_norm(const float* x, const float* w, float* y, int64_t n, float eps) {
    // As ggml: float squares summed in double, the mean rounded to float.
    double ss = 0;
    for (int64_t i = 0; i < n; ++i) ss += (double)(x[i] * x[i]);
    const float mean = (float)(ss / (double)n);
    const float scale = 1.0f / std::sqrt(mean + eps);
    if (w) {
        for (int64_t i = 0; i < n; ++i) y[i] = x[i] * scale * w[i];
    } else {
        for (int64_t i = 0; i < n; ++i) y[i] = x[i] * scale;
    }
}

void rope_head(float* x, int64_t head_dim, int64_t pos, const RopeTable& rt, RopeType type) {
    (void)head_dim;
    const int64_t half = rt.n_rot / 2;
    // Angles as ggml's rope cache computes them: theta_i = pos * base^(-2i/n),
    // advanced by repeated multiplication, divided by the llama3 factor, then
    // scaled linearly.
    const float theta_scale = std::pow(rt.freq_base, -2.0f / (float)rt.n_rot);
    const float yarn_mscale = rt.attn_factor * (1.0f + 0.1f * std::log(1.0f / rt.freq_scale));
    float theta = (float)pos;
    for (int64_t i = 0; i < half; ++i) {
        const float ff = rt.freq_factors ? rt.freq_factors[i] : 1.0f;
        float angle = rt.freq_scale * (theta / ff), c, s;
        if (rt.ext_factor != 0.0f) {
            const float y = ((float)i - rt.yarn_low) / std::max(0.001f, rt.yarn_high - rt.yarn_low);
            const float mix = (1.0f - std::min(1.0f, std::max(0.0f, y))) * rt.ext_factor;
            angle = angle * (1.0f - mix) + (theta / ff) * mix;
            c = std::cos(angle) * yarn_mscale;
            s = std::sin(angle) * yarn_mscale;
        } else {
            c = std::cos(angle) * rt.attn_factor;
            s = std::sin(angle) * rt.attn_factor;
        }
        float *a, *b;
        if (type == RopeType::Normal) {
            a = x + 2 * i;
            b = x + 2 * i + 1;
        } else {
            a = x + i;
            b = x + i + half;
        }
        const float x0 = *a, x1 = *b;
        // The fused forms llama.cpp's build compiles this rotation to (GCC
        // contracts x0*c - x1*s into fma(x0, c, -(x1*s))): same bits as it.
        const float x1s = x1 * s, x1c = x1 * c;
        *a = std::fma(x0, c, -x1s);
        *b = std::fma(x0, s, x1c);
        theta *= theta_scale;
    }
}

void yarn_corr_dims(int64_t n_rot, int64_t n_ctx_orig, float base, float beta_fast, float beta_slow, float* low,
                    float* high) {
    // The pair whose wavelength fits n_rotations times in the original context.
    const auto dim = [&](float n_rotations) {
        return (float)n_rot * std::log((float)n_ctx_orig / (n_rotations * 2.0f * 3.14159265358979323846f)) /
               (2.0f * std::log(base));
    };
    *low = std::max(0.0f, std::floor(dim(beta_fast)));
    *high = std::min((float)(n_rot - 1), std::ceil(dim(beta_slow)));
}

void swiglu_clamped(const float* g, const float* u, float* h, int64_t n, float alpha, float limit) {
    for (int64_t i = 0; i < n; ++i) {
        const float x = std::min(g[i], limit), y = std::clamp(u[i], -limit, limit);
        h[i] = x / (1.0f + std::exp(-alpha * x)) * (y + 1.0f);
    }
}

void store_f16(const float* src, uint16_t* dst, int64_t n) { simd().f32_to_f16(src, dst, n); }

}  // namespace eg
