// F16C version of the SimdOps helpers (compiled with -mavx2 -mfma -mf16c).
#include <immintrin.h>

#include "core/fp16.h"
#include "cpu/simd.h"

namespace eg {

namespace {
void f32_to_f16_avx2(const float* src, uint16_t* dst, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i*)(dst + i), _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; ++i) dst[i] = fp32_to_fp16(src[i]);
}
}  // namespace

const SimdOps* simd_avx2() {
    static const SimdOps ops{f32_to_f16_avx2};
    return &ops;
}

}  // namespace eg
