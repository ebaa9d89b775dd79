#include "cpu/simd.h"

#include "core/fp16.h"

namespace eg {

namespace {
void f32_to_f16_scalar(const float* src, uint16_t* dst, int64_t n) {
    for (int64_t i = 0; i < n; ++i) dst[i] = fp32_to_fp16(src[i]);
}
}  // namespace

const SimdOps& simd_scalar() {
    static const SimdOps ops{f32_to_f16_scalar};
    return ops;
}

const SimdOps& simd() {
    static const SimdOps& ops = [] () -> const SimdOps& {
#if defined(__x86_64__)
        if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c") && simd_avx2())
            return *simd_avx2();
#endif
        return simd_scalar();
    }();
    return ops;
}

}  // namespace eg
