// What rotary position embedding needs to know, as the CPU (cpu/ops.h) and
// GPU kernels take it: the pairing of the rotated values and the per-pair
// angle parameters. The model's hyper-parameters (model/hparams.h) name the
// pairing a file's architecture uses.
#pragma once

#include <cstdint>

namespace eg {

enum class RopeType { Normal, NeoX };  // Normal: adjacent pairs; NeoX: halves

// What RoPE needs to compute each pair's angle: rotated width, base, linear
// scale and the optional llama3 per-frequency factors.
struct RopeTable {
    int64_t n_rot = 0;
    float freq_base = 10000.0f;
    float freq_scale = 1.0f;
    const float* freq_factors = nullptr;  // [n_rot/2] or null
};

}  // namespace eg
