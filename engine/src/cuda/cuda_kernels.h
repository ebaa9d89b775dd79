// The device operations of the CUDA backend as host-callable launchers
// (defined in cuda_kernels.cu). Plain C++ over the CUDA runtime API: every
// pointer here is device memory unless said otherwise; each launcher enqueues
// on `s` and returns the launch's error (cudaSuccess when it was queued).
#pragma once

#include <cstdint>
#include <string>

#include <cuda_runtime_api.h>

#include "quant/types.h"

namespace eg::cuda {

// A weight matrix in VRAM in its GGUF form: n rows of k values, row_bytes each.
struct DevMatrix {
    GgmlType type = GgmlType::F32;
    int64_t k = 0, n = 0, row_bytes = 0;
    const void* data = nullptr;
};

// Types the matrix kernels read directly (all have k % 32 == 0 rows).
bool type_supported(GgmlType t);
// Their names, "F32, F16, ..., TQ2_0", for refusals.
std::string supported_type_names();

// y[r] = dot(W row r, x) (+ bias[r]) (+ y[r] when accumulate), r in [0, W.n).
// One warp per row; each lane dequantizes whole 32-value chunks to F32 and
// multiplies with F32 activations (no activation quantization).
cudaError_t matvec(const DevMatrix& W, const float* x, const float* bias, float* y, bool accumulate, cudaStream_t s);

// out [W.n, W.k] F16 (row-major) <- W dequantized (the prefill GEMM's input).
cudaError_t dequant_f16(const DevMatrix& W, void* out, cudaStream_t s);

// out[i] = (half)in[i]
cudaError_t f32_to_f16(const float* in, void* out, int64_t n, cudaStream_t s);

// y[r] = x[r] / rms(x[r]) * w  for rows r of n values (w may be null; y may be x).
cudaError_t rms_norm(const float* x, const float* w, float* y, int64_t rows, int64_t n, float eps, cudaStream_t s);

// x[r*n + i] += b[i]
cudaError_t add_bias(float* x, const float* b, int64_t rows, int64_t n, cudaStream_t s);

// Per head of x [n_tok, n_heads*head_dim]: optional RMSNorm with w[head_dim]
// (qwen3), then RoPE at position *pos0 + t (pos0 in device memory, so a
// captured graph reads the step's position). theta_scale = base^(-2/n_rot),
// computed on the host as the CPU does.
struct RopeArgs {
    int64_t n_tok = 0, n_heads = 0, head_dim = 0, n_rot = 0;
    float theta_scale = 1, freq_scale = 1;
    const float* freq_factors = nullptr;  // [n_rot/2] or null (device)
    bool neox = false;
    const float* norm_w = nullptr;        // [head_dim] or null (device)
    float eps = 1e-6f;
};
cudaError_t norm_rope(float* x, const RopeArgs& a, const int32_t* pos0, cudaStream_t s);

// cache[(*pos0 + t) * n + i] = (half)src[t*n + i] for K and V at once.
cudaError_t store_kv(const float* k, const float* v, void* k_cache, void* v_cache, int64_t n_tok, int64_t n,
                     const int32_t* pos0, cudaStream_t s);

// h = silu(g) * u
cudaError_t silu_mul(const float* g, const float* u, float* h, int64_t n, cudaStream_t s);

// Row softmax, rows of n (used by tests; attention has its own online one).
cudaError_t softmax(const float* x, float* y, int64_t rows, int64_t n, cudaStream_t s);

// out[i*k ..] = row ids[i] of W (dequantized to F32).
cudaError_t get_rows(const DevMatrix& W, const int32_t* ids, int64_t n_ids, float* out, cudaStream_t s);

// Causal attention over the F16 cache: query t (position *pos0 + t) sees
// cache rows [0, *pos0 + t]. Split-K: the keys are cut into n_split chunks of
// `chunk` rows; each (split, head, token) block keeps an online softmax and
// writes a partial (max, sum, acc[head_dim]) to `partial`, then a second
// kernel merges the splits. partial holds n_tok*n_head*n_split*(head_dim+2)
// floats. head_dim <= 256 and a multiple of 32.
struct AttnArgs {
    const float* q = nullptr;      // [n_tok, n_head*head_dim]
    const void* k = nullptr;       // [n_ctx, n_head_kv*head_dim] F16
    const void* v = nullptr;
    float* out = nullptr;          // [n_tok, n_head*head_dim]
    float* partial = nullptr;
    int64_t n_tok = 0, n_head = 0, n_head_kv = 0, head_dim = 0;
    int64_t n_split = 1, chunk = 256;
};
cudaError_t attention(const AttnArgs& a, const int32_t* pos0, cudaStream_t s);

// Engram rows (or any table's): table[slots[i] * row_bytes ..] <- staged row i,
// for the n rows just uploaded in one piece.
cudaError_t scatter_rows(const void* staged, const int32_t* slots, int64_t n, int64_t row_bytes, void* table,
                         cudaStream_t s);

// The gate of a lookup module (model/extension.h, LookupModule), a block per
// token t: s = <rms(x_t)*q_norm, rms(key_t)*k_norm> / sqrt(n) (squares and
// the dot in double, as the CPU), g = sigmoid(sign(s) sqrt(max(|s|, 1e-6))),
// out_t = g * value_t; with a history, hist[*pos0 + t] = rms(out_t)*conv_norm.
// key and value rows are kv_stride floats apart (the fused projection
// interleaves them).
struct GateArgs {
    const float* x = nullptr;       // [n_tok, n]
    const float* key = nullptr;     // [n_tok, kv_stride]
    const float* value = nullptr;
    int64_t kv_stride = 0;
    const float *q_norm = nullptr, *k_norm = nullptr;
    float* out = nullptr;           // [n_tok, n]
    float* hist = nullptr;          // [n_ctx, n] or null
    const float* conv_norm = nullptr;
    int64_t n_tok = 0, n = 0;
    float eps = 1e-5f;
};
cudaError_t lookup_gate(const GateArgs& a, const int32_t* pos0, cudaStream_t s);

// x += out (+ SiLU(causal depthwise conv of hist at positions *pos0 + t:
// sum_k w[c*K + k] * hist[p - (K-1-k)*dil][c], positions < 0 read 0)).
// conv null: x += out.
cudaError_t lookup_residual(float* x, const float* out, const float* hist, const float* conv, int64_t K, int64_t dil,
                            int64_t n_tok, int64_t n, const int32_t* pos0, cudaStream_t s);

// Number of splits and chunk length for n_kv keys with at most max_split splits.
void attention_split(int64_t n_kv, int64_t max_split, int64_t* n_split, int64_t* chunk);

}  // namespace eg::cuda
