// Internal declarations shared by the per-type kernel files (dequant.cpp,
// quantize.cpp, dot_scalar.cpp, dot_avx2.cpp) and the dispatcher; not part of
// the engine's public API (that is kernels.h and cpu/matmul.h).
#pragma once

#include <bit>
#include <cstdint>

#include "quant/kernels.h"

namespace eg::quant {

// ---- dequantize (dequant.cpp): n elements, n a multiple of the block size ----
void dequant_f32(const void* src, float* dst, int64_t n);
void dequant_f16(const void* src, float* dst, int64_t n);
void dequant_bf16(const void* src, float* dst, int64_t n);
void dequant_q4_0(const void* src, float* dst, int64_t n);
void dequant_q4_1(const void* src, float* dst, int64_t n);
void dequant_q5_0(const void* src, float* dst, int64_t n);
void dequant_q5_1(const void* src, float* dst, int64_t n);
void dequant_q8_0(const void* src, float* dst, int64_t n);
void dequant_q8_1(const void* src, float* dst, int64_t n);
void dequant_q2_K(const void* src, float* dst, int64_t n);
void dequant_q3_K(const void* src, float* dst, int64_t n);
void dequant_q4_K(const void* src, float* dst, int64_t n);
void dequant_q5_K(const void* src, float* dst, int64_t n);
void dequant_q6_K(const void* src, float* dst, int64_t n);
void dequant_q8_K(const void* src, float* dst, int64_t n);
void dequant_mxfp4(const void* src, float* dst, int64_t n);
// i-quants and ternary types (dequant_iq.cpp)
void dequant_iq4_nl(const void* src, float* dst, int64_t n);
void dequant_iq4_xs(const void* src, float* dst, int64_t n);
void dequant_iq2_xxs(const void* src, float* dst, int64_t n);
void dequant_iq2_xs(const void* src, float* dst, int64_t n);
void dequant_iq2_s(const void* src, float* dst, int64_t n);
void dequant_iq3_xxs(const void* src, float* dst, int64_t n);
void dequant_iq3_s(const void* src, float* dst, int64_t n);
void dequant_iq1_s(const void* src, float* dst, int64_t n);
void dequant_iq1_m(const void* src, float* dst, int64_t n);
void dequant_tq1_0(const void* src, float* dst, int64_t n);
void dequant_tq2_0(const void* src, float* dst, int64_t n);

// MXFP4's E2M1 values doubled (so they are integers), indexed by nibble:
// sign bit 3, then 0, 0.5, 1, 1.5, 2, 3, 4, 6 times two. Index 8 (-0) is 0.
inline constexpr int8_t kMxfp4Values[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};
// Half the E8M0 scale, 2^(e-128), exactly (e = 0 and 1 are subnormal floats):
// it multiplies the doubled values above. Built from bits, as gguf-py does,
// so no libm rounding or FTZ setting can change it. Called from the portable
// files only (x86_tiles.h has its own: inline functions shared with the SIMD
// files could be linked from an AVX-512 one).
inline float mxfp4_scale(uint8_t e) {
    const uint32_t bits = e < 2 ? 0x00200000u << e : (uint32_t)(e - 1) << 23;
    return std::bit_cast<float>(bits);
}

// Block field decoders shared by dequant.cpp and the dot products.
// The 16 six-bit scales of a Q3_K block, already offset by -32.
void q3_K_scales(const uint8_t* scales12, int8_t out[16]);
// Scale and min (6 bits each) of sub-block j (0..7) of a Q4_K/Q5_K block.
void k4_scale_min(int j, const uint8_t* scales12, uint8_t* sc, uint8_t* m);
// The 6-bit scale of 32-value group ib (0..7) of an IQ4_XS block, offset -32.
int iq4_xs_scale(const block_iq4_xs& b, int ib);
// IQ1_M's f16 d, spread over the top nibbles of its 4 u16 scale words.
uint16_t iq1_m_d(const block_iq1_m& b);
// The 256 ternary values (-1, 0, 1) of a TQ1_0 block, in element order.
void tq1_0_values(const block_tq1_0& b, int8_t out[QK_K]);

// ---- quantize (quantize.cpp) ----
void quant_f32(const float* src, void* dst, int64_t n);
void quant_f16(const float* src, void* dst, int64_t n);
void quant_bf16(const float* src, void* dst, int64_t n);
void quant_q4_0(const float* src, void* dst, int64_t n);
void quant_q4_1(const float* src, void* dst, int64_t n);
void quant_q5_0(const float* src, void* dst, int64_t n);
void quant_q5_1(const float* src, void* dst, int64_t n);
void quant_q8_0(const float* src, void* dst, int64_t n);
void quant_q2_K(const float* src, void* dst, int64_t n);
void quant_q3_K(const float* src, void* dst, int64_t n);
void quant_q4_K(const float* src, void* dst, int64_t n);
void quant_q5_K(const float* src, void* dst, int64_t n);
void quant_q6_K(const float* src, void* dst, int64_t n);
void quant_q8_1(const float* src, void* dst, int64_t n);
void quant_q8_K(const float* src, void* dst, int64_t n);
void quant_mxfp4(const float* src, void* dst, int64_t n);
// IQ4_NL and IQ4_XS (quantize_iq.cpp); the grid types have none
void quant_iq4_nl(const float* src, void* dst, int64_t n);
void quant_iq4_xs(const float* src, void* dst, int64_t n);

// ---- scalar dot products (dot_scalar.cpp): weights of the named type times
// activations of its vec_dot_type ----
float dot_f32_scalar(int64_t n, const void* w, const void* x);
float dot_f16_scalar(int64_t n, const void* w, const void* x);
float dot_bf16_scalar(int64_t n, const void* w, const void* x);
float dot_q4_0_scalar(int64_t n, const void* w, const void* x);
float dot_q4_1_scalar(int64_t n, const void* w, const void* x);
float dot_q5_0_scalar(int64_t n, const void* w, const void* x);
float dot_q5_1_scalar(int64_t n, const void* w, const void* x);
float dot_q8_0_scalar(int64_t n, const void* w, const void* x);
float dot_q2_K_scalar(int64_t n, const void* w, const void* x);
float dot_q3_K_scalar(int64_t n, const void* w, const void* x);
float dot_q4_K_scalar(int64_t n, const void* w, const void* x);
float dot_q5_K_scalar(int64_t n, const void* w, const void* x);
float dot_q6_K_scalar(int64_t n, const void* w, const void* x);
float dot_mxfp4_scalar(int64_t n, const void* w, const void* x);
// i-quants and ternary types (dot_iq_scalar.cpp): IQ4_NL x Q8_0, the others x Q8_K
float dot_iq4_nl_scalar(int64_t n, const void* w, const void* x);
float dot_iq4_xs_scalar(int64_t n, const void* w, const void* x);
float dot_iq2_xxs_scalar(int64_t n, const void* w, const void* x);
float dot_iq2_xs_scalar(int64_t n, const void* w, const void* x);
float dot_iq2_s_scalar(int64_t n, const void* w, const void* x);
float dot_iq3_xxs_scalar(int64_t n, const void* w, const void* x);
float dot_iq3_s_scalar(int64_t n, const void* w, const void* x);
float dot_iq1_s_scalar(int64_t n, const void* w, const void* x);
float dot_iq1_m_scalar(int64_t n, const void* w, const void* x);
float dot_tq1_0_scalar(int64_t n, const void* w, const void* x);
float dot_tq2_0_scalar(int64_t n, const void* w, const void* x);

// ---- AVX2/FMA dot products (dot_avx2.cpp); only called when the CPU has them ----
float dot_f32_avx2(int64_t n, const void* w, const void* x);
float dot_f16_avx2(int64_t n, const void* w, const void* x);
float dot_bf16_avx2(int64_t n, const void* w, const void* x);
float dot_q4_0_avx2(int64_t n, const void* w, const void* x);
float dot_q4_1_avx2(int64_t n, const void* w, const void* x);
float dot_q5_0_avx2(int64_t n, const void* w, const void* x);
float dot_q5_1_avx2(int64_t n, const void* w, const void* x);
float dot_q8_0_avx2(int64_t n, const void* w, const void* x);
float dot_q2_K_avx2(int64_t n, const void* w, const void* x);
float dot_q3_K_avx2(int64_t n, const void* w, const void* x);
float dot_q4_K_avx2(int64_t n, const void* w, const void* x);
float dot_q5_K_avx2(int64_t n, const void* w, const void* x);
float dot_q6_K_avx2(int64_t n, const void* w, const void* x);
float dot_mxfp4_avx2(int64_t n, const void* w, const void* x);
// IQ4_NL x Q8_0, the other i-quants and TQ2_0 x Q8_K (dot_iq_avx2.cpp;
// TQ1_0 stays portable)
float dot_iq4_nl_avx2(int64_t n, const void* w, const void* x);
float dot_iq4_xs_avx2(int64_t n, const void* w, const void* x);
float dot_iq2_xxs_avx2(int64_t n, const void* w, const void* x);
float dot_iq2_xs_avx2(int64_t n, const void* w, const void* x);
float dot_iq2_s_avx2(int64_t n, const void* w, const void* x);
float dot_iq3_xxs_avx2(int64_t n, const void* w, const void* x);
float dot_iq3_s_avx2(int64_t n, const void* w, const void* x);
float dot_iq1_s_avx2(int64_t n, const void* w, const void* x);
float dot_iq1_m_avx2(int64_t n, const void* w, const void* x);
float dot_tq2_0_avx2(int64_t n, const void* w, const void* x);
void quant_q8_0_avx2(const float* src, void* dst, int64_t n);
void quant_q8_1_avx2(const float* src, void* dst, int64_t n);

// Tiled micro-kernel: out[c * out_stride + r] = dot(w row r, x row c)
// for r in [0, nr), c in [0, nc). Weight rows are w_stride bytes apart, quantized
// activation rows x_stride bytes apart. Each weight block is unpacked once and
// reused across the nc tokens of the tile.
using gemm_tile_fn = void (*)(int64_t n, const uint8_t* w, int64_t w_stride, int nr,
                              const uint8_t* x, int64_t x_stride, int nc,
                              float* out, int64_t out_stride);
void gemm_q4_0_avx2(int64_t n, const uint8_t* w, int64_t w_stride, int nr,
                    const uint8_t* x, int64_t x_stride, int nc, float* out, int64_t out_stride);
void gemm_q4_1_avx2(int64_t n, const uint8_t* w, int64_t w_stride, int nr,
                    const uint8_t* x, int64_t x_stride, int nc, float* out, int64_t out_stride);
void gemm_q8_0_avx2(int64_t n, const uint8_t* w, int64_t w_stride, int nr,
                    const uint8_t* x, int64_t x_stride, int nc, float* out, int64_t out_stride);
void gemm_q5_0_avx2(int64_t n, const uint8_t* w, int64_t w_stride, int nr,
                    const uint8_t* x, int64_t x_stride, int nc, float* out, int64_t out_stride);
void gemm_q5_1_avx2(int64_t n, const uint8_t* w, int64_t w_stride, int nr,
                    const uint8_t* x, int64_t x_stride, int nc, float* out, int64_t out_stride);
void gemm_mxfp4_avx2(int64_t n, const uint8_t* w, int64_t w_stride, int nr,
                     const uint8_t* x, int64_t x_stride, int nc, float* out, int64_t out_stride);

// llama.cpp-CPU-style activation quantizers (quantize.cpp, dot_avx2.cpp).
void act_q8_0(const float* src, void* dst, int64_t n);
void act_q8_1(const float* src, void* dst, int64_t n);
void act_q8_0_avx2(const float* src, void* dst, int64_t n);
void act_q8_1_avx2(const float* src, void* dst, int64_t n);

// Quantizer of an activation format (a vec_dot_type, Q8_1 and Q8_K included).
quantize_fn activation_quantizer(GgmlType vec_dot_type);
// Dequantizer of any type with a table entry, Q8_1 and Q8_K included (tests).
dequantize_fn any_dequantizer(GgmlType t);

// AVX-512 VNNI versions of the 32-element block kernels (dot_avx512.cpp).
float dot_q4_0_avx512(int64_t n, const void* w, const void* x);
float dot_q4_1_avx512(int64_t n, const void* w, const void* x);
float dot_q5_0_avx512(int64_t n, const void* w, const void* x);
float dot_q5_1_avx512(int64_t n, const void* w, const void* x);
float dot_q8_0_avx512(int64_t n, const void* w, const void* x);
float dot_mxfp4_avx512(int64_t n, const void* w, const void* x);
void gemm_q4_0_avx512(int64_t n, const uint8_t* w, int64_t w_stride, int nr,
                      const uint8_t* x, int64_t x_stride, int nc, float* out, int64_t out_stride);
void gemm_q4_1_avx512(int64_t n, const uint8_t* w, int64_t w_stride, int nr,
                      const uint8_t* x, int64_t x_stride, int nc, float* out, int64_t out_stride);
void gemm_q5_0_avx512(int64_t n, const uint8_t* w, int64_t w_stride, int nr,
                      const uint8_t* x, int64_t x_stride, int nc, float* out, int64_t out_stride);
void gemm_q5_1_avx512(int64_t n, const uint8_t* w, int64_t w_stride, int nr,
                      const uint8_t* x, int64_t x_stride, int nc, float* out, int64_t out_stride);
void gemm_q8_0_avx512(int64_t n, const uint8_t* w, int64_t w_stride, int nr,
                      const uint8_t* x, int64_t x_stride, int nc, float* out, int64_t out_stride);
void gemm_mxfp4_avx512(int64_t n, const uint8_t* w, int64_t w_stride, int nr,
                       const uint8_t* x, int64_t x_stride, int nc, float* out, int64_t out_stride);

// AVX-512 VNNI kernels of the i-quants, TQ1_0, TQ2_0, Q2_K and Q3_K
// (dot_iq_avx512.cpp): IQ4_NL x Q8_0, the others x Q8_K; vec_dot is the
// tile's 1x1 case.
float dot_tq1_0_avx512(int64_t n, const void* w, const void* x);
void gemm_tq1_0_avx512(int64_t n, const uint8_t* w, int64_t w_stride, int nr, const uint8_t* x, int64_t x_stride,
                       int nc, float* out, int64_t out_stride);
float dot_q2_K_avx512(int64_t n, const void* w, const void* x);
float dot_q3_K_avx512(int64_t n, const void* w, const void* x);
void gemm_q2_K_avx512(int64_t n, const uint8_t* w, int64_t w_stride, int nr, const uint8_t* x, int64_t x_stride,
                      int nc, float* out, int64_t out_stride);
void gemm_q3_K_avx512(int64_t n, const uint8_t* w, int64_t w_stride, int nr, const uint8_t* x, int64_t x_stride,
                      int nc, float* out, int64_t out_stride);
float dot_iq4_nl_avx512(int64_t n, const void* w, const void* x);
float dot_iq4_xs_avx512(int64_t n, const void* w, const void* x);
float dot_iq3_s_avx512(int64_t n, const void* w, const void* x);
float dot_iq2_xxs_avx512(int64_t n, const void* w, const void* x);
float dot_iq3_xxs_avx512(int64_t n, const void* w, const void* x);
float dot_tq2_0_avx512(int64_t n, const void* w, const void* x);
float dot_iq2_xs_avx512(int64_t n, const void* w, const void* x);
float dot_iq2_s_avx512(int64_t n, const void* w, const void* x);
float dot_iq1_s_avx512(int64_t n, const void* w, const void* x);
float dot_iq1_m_avx512(int64_t n, const void* w, const void* x);
void gemm_iq4_nl_avx512(int64_t n, const uint8_t* w, int64_t w_stride, int nr,
                       const uint8_t* x, int64_t x_stride, int nc, float* out, int64_t out_stride);
void gemm_iq4_xs_avx512(int64_t n, const uint8_t* w, int64_t w_stride, int nr,
                       const uint8_t* x, int64_t x_stride, int nc, float* out, int64_t out_stride);
void gemm_iq3_s_avx512(int64_t n, const uint8_t* w, int64_t w_stride, int nr,
                       const uint8_t* x, int64_t x_stride, int nc, float* out, int64_t out_stride);
void gemm_iq3_xxs_avx512(int64_t n, const uint8_t* w, int64_t w_stride, int nr,
                       const uint8_t* x, int64_t x_stride, int nc, float* out, int64_t out_stride);
void gemm_tq2_0_avx512(int64_t n, const uint8_t* w, int64_t w_stride, int nr,
                       const uint8_t* x, int64_t x_stride, int nc, float* out, int64_t out_stride);
void gemm_iq2_xs_avx512(int64_t n, const uint8_t* w, int64_t w_stride, int nr,
                       const uint8_t* x, int64_t x_stride, int nc, float* out, int64_t out_stride);
void gemm_iq2_s_avx512(int64_t n, const uint8_t* w, int64_t w_stride, int nr,
                       const uint8_t* x, int64_t x_stride, int nc, float* out, int64_t out_stride);
void gemm_iq1_s_avx512(int64_t n, const uint8_t* w, int64_t w_stride, int nr,
                       const uint8_t* x, int64_t x_stride, int nc, float* out, int64_t out_stride);
void gemm_iq1_m_avx512(int64_t n, const uint8_t* w, int64_t w_stride, int nr,
                       const uint8_t* x, int64_t x_stride, int nc, float* out, int64_t out_stride);
void gemm_iq2_xxs_avx512(int64_t n, const uint8_t* w, int64_t w_stride, int nr,
                       const uint8_t* x, int64_t x_stride, int nc, float* out, int64_t out_stride);

// The tile kernel for a weight type, or nullptr (then the matmul calls vec_dot
// per row and token). Follows the dispatcher's instruction set.
gemm_tile_fn gemm_tile_for(GgmlType t);

}  // namespace eg::quant
