// Each device operation of the CUDA backend, callable from the host on host
// data (upload, one launch, download) so tests can compare it with the CPU
// reference. Plain C++: a build without CUDA has them too, and each returns
// the reason it cannot run. `dev` is the GPU index.
#pragma once

#include <cstdint>

#include "core/result.h"
#include "cpu/matmul.h"
#include "cpu/ops.h"

namespace eg::cuda_ops {

// y[r] = rms_norm(x[r]) * w for rows r of n values (w may be null).
Status rms_norm(int dev, const float* x, const float* w, float* y, int64_t rows, int64_t n, float eps);

// RoPE (after an optional per-head RMSNorm with norm_w[head_dim]) of
// x [n_tok, n_heads*head_dim] in place, token t at position pos0 + t.
Status rope(int dev, float* x, int64_t n_tok, int64_t n_heads, int64_t head_dim, int64_t pos0, const RopeTable& rt,
            RopeType type, const float* norm_w = nullptr, float eps = 1e-6f);

// h = silu(g) * u
Status silu_mul(int dev, const float* g, const float* u, float* h, int64_t n);

// Row softmax of rows of n values.
Status softmax(int dev, const float* x, float* y, int64_t rows, int64_t n);

// Causal attention over the F16 caches as eg::attention (a.scores unused):
// decode (n_tok == 1) and prefill shapes alike.
Status attention(int dev, const AttentionArgs& a);

// y[W.n] = W x (one token, the decode kernel).
Status matvec(int dev, const WeightView& W, const float* x, float* y);

// Y [n_tok, W.n] = X [n_tok, W.k] W^T by the prefill path (W dequantized to
// F16, X rounded to F16, cublasGemmEx with F32 accumulation).
Status gemm(int dev, const WeightView& W, const float* X, int64_t n_tok, float* Y);

// out[i*W.k ..] = row ids[i] of W.
Status get_rows(int dev, const WeightView& W, const int32_t* ids, int64_t n_ids, float* out);

// The lookup (Engram) module's gate for positions pos0 .. pos0+n_tok (as
// eg::lookup_gate per position): key t at kv[t*kv_stride], value t at
// kv[t*kv_stride + value_offset]; out [n_tok, n]. With conv_norm, also
// hist[pos0 + t] = rms_norm(out_t) * conv_norm (hist [n_ctx, n], in and out).
Status lookup_gate(int dev, const float* x, const float* kv, int64_t kv_stride, int64_t value_offset,
                   const float* q_norm, const float* k_norm, const float* conv_norm, float* hist, int64_t n_ctx,
                   int64_t n_tok, int64_t n, int64_t pos0, float eps, float* out);

// x [n_tok, n] += out (+ eg::lookup_conv of hist [n_ctx, n] at pos0 + t when
// conv [n, K] is given).
Status lookup_residual(int dev, float* x, const float* out, const float* hist, int64_t n_ctx, const float* conv,
                       int64_t K, int64_t dil, int64_t n_tok, int64_t n, int64_t pos0);

// table [n_slots, row_bytes] (in and out): row slots[i] <- staged row i.
Status scatter_rows(int dev, const void* staged, const int32_t* slots, int64_t n, int64_t row_bytes, void* table,
                    int64_t n_slots);

}  // namespace eg::cuda_ops
