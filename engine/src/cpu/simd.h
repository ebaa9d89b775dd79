// F16 conversion of the KV cache stores, with a scalar and an F16C
// implementation chosen once at run time.
#pragma once

#include <cstdint>

namespace eg {

struct SimdOps {
    // dst[i] = f16(src[i]), round to nearest even
    void (*f32_to_f16)(const float* src, uint16_t* dst, int64_t n);
};

const SimdOps& simd();

// Implementations, for the dispatcher and for tests.
const SimdOps& simd_scalar();
const SimdOps* simd_avx2();  // nullptr when not compiled in

}  // namespace eg
