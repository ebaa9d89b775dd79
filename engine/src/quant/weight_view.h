// A 2-D weight matrix as stored in GGUF, described at the depth of its
// quantized types: what the CPU's matmul (cpu/matmul.h), the repacker
// (quant/packed.h) and the GPU backend all take.
#pragma once

#include <cstdint>

#include "quant/types.h"

namespace eg {

struct PackedMatrix;

// n rows (ne1, output features) of k values (ne0, input features), each row
// row_bytes long.
struct WeightView {
    GgmlType type = GgmlType::F32;
    int64_t k = 0;  // ne0, in features
    int64_t n = 0;  // ne1, out rows
    const uint8_t* data = nullptr;
    int64_t row_bytes = 0;
    // The same matrix repacked for the CPU's integer kernels (quant/packed.h),
    // owned elsewhere (the CPU backend); null: computed from data.
    const PackedMatrix* packed = nullptr;
};

}  // namespace eg
