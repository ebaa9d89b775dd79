// AVX-512 VNNI versions of the 32-element block kernels (the types the
// benchmark models are made of): the same tiled code as dot_avx2.cpp, built
// with VNNI so each u8 x s8 product of 4 is one vpdpbusd instead of
// maddubs + madd, and with 32 vector registers for larger tiles. Compiled
// with AVX-512 F/BW/VL/DQ/VNNI flags (file name suffix) and called only when
// CPUID reports them.
#include "quant/kernels_impl.h"
#include "quant/x86_tiles.h"

#if !defined(__AVX512VNNI__) || !defined(__AVX512VL__)
#error "dot_avx512.cpp must be built with -mavx512vnni -mavx512vl (see engine/CMakeLists.txt)"
#endif

namespace eg::quant {

float dot_q4_0_avx512(int64_t n, const void* w, const void* x) { return vec_dot_1x1<Q4_0Tile>(n, w, x); }
float dot_q4_1_avx512(int64_t n, const void* w, const void* x) { return vec_dot_1x1<Q4_1Tile>(n, w, x); }
float dot_q5_0_avx512(int64_t n, const void* w, const void* x) { return vec_dot_1x1<Q5_0Tile>(n, w, x); }
float dot_q5_1_avx512(int64_t n, const void* w, const void* x) { return vec_dot_1x1<Q5_1Tile>(n, w, x); }
float dot_q8_0_avx512(int64_t n, const void* w, const void* x) { return vec_dot_1x1<Q8_0Tile>(n, w, x); }
float dot_mxfp4_avx512(int64_t n, const void* w, const void* x) { return vec_dot_1x1<MXFP4Tile>(n, w, x); }

// Prefill: 4 rows x 4 tokens (16 accumulators of the 32 registers). Decode:
// one row at a time, so the weights (far beyond the caches for a whole model)
// stream in address order; several rows at once measured up to 2x slower there.
#define EG_GEMM(name, T)                                                                            \
    void name(int64_t n, const uint8_t* w, int64_t w_stride, int nr, const uint8_t* x,              \
              int64_t x_stride, int nc, float* out, int64_t out_stride) {                           \
        if (nc == 1)                                                                                \
            gemm_driver<T, 1, 1>(n, w, w_stride, nr, x, x_stride, nc, out, out_stride);             \
        else                                                                                        \
            gemm_driver<T, 4, 4>(n, w, w_stride, nr, x, x_stride, nc, out, out_stride);             \
    }
EG_GEMM(gemm_q4_0_avx512, Q4_0Tile)
EG_GEMM(gemm_q4_1_avx512, Q4_1Tile)
EG_GEMM(gemm_q5_0_avx512, Q5_0Tile)
EG_GEMM(gemm_q5_1_avx512, Q5_1Tile)
EG_GEMM(gemm_q8_0_avx512, Q8_0Tile)
EG_GEMM(gemm_mxfp4_avx512, MXFP4Tile)
#undef EG_GEMM

}  // namespace eg::quant
