// Per-type CPU kernels: dequantization, activation quantization and dot
// products. The implementation (scalar, AVX2/FMA, ...) is chosen once at run
// time from the CPU's features.
#pragma once

#include <cstdint>

#include "quant/types.h"

namespace eg {

using dequantize_fn = void (*)(const void* src, float* dst, int64_t n);
using quantize_fn = void (*)(const float* src, void* dst, int64_t n);
// Dot product of n elements: one row of weights (w) with one row of
// activations already quantized to the weight type's vec_dot_type (x).
using vec_dot_fn = float (*)(int64_t n, const void* w, const void* x);

struct TypeKernels {
    GgmlType type;
    GgmlType vec_dot_type;     // what activations are quantized to (F32 for F32)
    dequantize_fn dequantize;  // exact ggml semantics
    quantize_fn quantize;      // reference quantization into `type` (may be null)
    vec_dot_fn vec_dot;
};

// Kernels for a compute type; nullptr when the type is not supported.
const TypeKernels* kernels_for(GgmlType t);

// Name of the instruction set the dispatcher picked ("avx512vnni", "avx2",
// "scalar").
const char* cpu_kernel_isa();

// Force the scalar kernels (tests compare both paths). Not thread-safe; call
// before any kernel runs.
void force_scalar_kernels(bool on);

// Caps the instruction set the dispatcher may pick ("scalar", "avx2",
// "avx512vnni"; the CPU's own limit still applies), so tests can run every
// path a CPU has. False for an unknown name. Not thread-safe, like
// force_scalar_kernels(), which is the same as capping at "scalar" (off:
// no cap).
bool cap_kernel_isa(const char* isa);

}  // namespace eg
