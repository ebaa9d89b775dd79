// What rotary position embedding needs to know, as the CPU (cpu/ops.h) and
// GPU kernels take it: the pairing of the rotated values and the per-pair
// angle parameters. The model's hyper-parameters (model/hparams.h) name the
// pairing a file's architecture uses.
#pragma once

#include <cstdint>

namespace eg {

enum class RopeType { Normal, NeoX };  // Normal: adjacent pairs; NeoX: halves

// What RoPE needs to compute each pair's angle: rotated width, base, linear
// scale, the optional llama3 per-frequency factors and YaRN's.
struct RopeTable {
    int64_t n_rot = 0;
    float freq_base = 10000.0f;
    float freq_scale = 1.0f;
    const float* freq_factors = nullptr;  // [n_rot/2] or null
    // YaRN (ext_factor > 0): pair i's angle blends the interpolated
    // (freq_scale * theta) and the original theta by a ramp that is 1 below
    // pair yarn_low and 0 above yarn_high, and cos/sin are scaled by
    // attn_factor * (1 + 0.1 ln(1 / freq_scale)).
    float ext_factor = 0.0f;
    float attn_factor = 1.0f;
    float yarn_low = 0.0f, yarn_high = 0.0f;
};

// YaRN's ramp bounds for n_rot rotated values trained at n_ctx_orig with
// base `base` (the pairs whose wavelength fits beta_fast / beta_slow times
// in the original context).
void yarn_corr_dims(int64_t n_rot, int64_t n_ctx_orig, float base, float beta_fast, float beta_slow, float* low,
                    float* high);

}  // namespace eg
