// Kernels of the CUDA backend. Quantized blocks are decoded by
// cuda/quant_blocks.h (chunks of 32 values, exactly as quant/dequant.cpp).
#include "cuda/cuda_kernels.h"
#include "cuda/quant_blocks.h"

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cmath>

namespace eg::cuda {

namespace {

constexpr int kWarp = 32;

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// One warp per row, kRows rows per block; lane l takes chunks l, l+32, ...
constexpr int kRows = 8;
// Rows per warp in matvec: the lane's 32 activations, loaded once, serve
// both rows (halves the activation reads, which otherwise cost more L1
// bandwidth than the quantized weights themselves).
constexpr int kWarpRows = 2;

template <GgmlType T>
__global__ void __launch_bounds__(kRows * kWarp) matvec_kernel(const uint8_t* W, int64_t n, int64_t k,
                                                              int64_t row_bytes, const float* __restrict__ x,
                                                              const float* __restrict__ bias, float* y,
                                                              int accumulate) {
    const int64_t r0 = ((int64_t)blockIdx.x * kRows + threadIdx.y) * kWarpRows;
    if (r0 >= n) return;  // whole warps leave together (r0 depends on the warp only)
    const int nr = n - r0 < kWarpRows ? (int)(n - r0) : kWarpRows;
    const int64_t nc = k / 32;
    float acc[kWarpRows] = {};
    for (int64_t c = threadIdx.x; c < nc; c += kWarp) {
        float xv[32];
        const float4* xp = reinterpret_cast<const float4*>(x + c * 32);
#pragma unroll
        for (int i = 0; i < 8; ++i) {
            const float4 f = __ldg(xp + i);
            xv[4 * i] = f.x, xv[4 * i + 1] = f.y, xv[4 * i + 2] = f.z, xv[4 * i + 3] = f.w;
        }
#pragma unroll
        for (int rr = 0; rr < kWarpRows; ++rr) {
            if (rr < nr) {
                float v[32];
                chunk32<T>(W + (r0 + rr) * row_bytes, c, v);
                float a = 0.0f;
#pragma unroll
                for (int i = 0; i < 32; ++i) a += v[i] * xv[i];
                acc[rr] += a;
            }
        }
    }
#pragma unroll
    for (int rr = 0; rr < kWarpRows; ++rr) {
        const float sum = warp_sum(acc[rr]);  // all lanes: nr is the same across the warp
        if (threadIdx.x == 0 && rr < nr) {
            const int64_t r = r0 + rr;
            const float out = bias ? sum + bias[r] : sum;
            y[r] = accumulate ? y[r] + out : out;
        }
    }
}

// One thread per chunk of 32 values: F16 out [n, k].
template <GgmlType T>
__global__ void dequant_kernel(const uint8_t* W, int64_t n, int64_t k, int64_t row_bytes, __half* out) {
    const int64_t nc = k / 32;
    const int64_t total = n * nc;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
        const int64_t r = i / nc, c = i % nc;
        float v[32];
        chunk32<T>(W + r * row_bytes, c, v);
        __half2* o = reinterpret_cast<__half2*>(out + r * k + c * 32);
#pragma unroll
        for (int j = 0; j < 16; ++j) o[j] = __floats2half2_rn(v[2 * j], v[2 * j + 1]);
    }
}

// One warp per id; lane l writes chunks l, l+32, ... of the row.
template <GgmlType T>
__global__ void get_rows_kernel(const uint8_t* W, int64_t k, int64_t row_bytes, const int32_t* ids, int64_t n_ids,
                                float* out) {
    const int64_t i = (int64_t)blockIdx.x * kRows + threadIdx.y;
    if (i >= n_ids) return;
    const uint8_t* row = W + (int64_t)ids[i] * row_bytes;
    for (int64_t c = threadIdx.x; c < k / 32; c += kWarp) {
        float v[32];
        chunk32<T>(row, c, v);
#pragma unroll
        for (int j = 0; j < 32; ++j) out[i * k + c * 32 + j] = v[j];
    }
}

__global__ void f32_to_f16_kernel(const float* in, __half* out, int64_t n) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        out[i] = __float2half_rn(in[i]);
}

// Sum over a block of 256 threads (8 warps); every thread gets the total.
// `part` is the block's 8 doubles of shared memory; callers reuse it only
// after this returns (the trailing barrier).
__device__ double block_sum(double v, double* part) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    if ((threadIdx.x & 31) == 0) part[threadIdx.x >> 5] = v;
    __syncthreads();
    double tot = 0;
    for (int i = 0; i < (int)(blockDim.x >> 5); ++i) tot += part[i];
    __syncthreads();
    return tot;
}

// Block per row, 256 threads; squares summed in double as the CPU does.
__global__ void rms_norm_kernel(const float* x, const float* w, float* y, int64_t n, float eps) {
    __shared__ double part[8];
    const float* xr = x + (int64_t)blockIdx.x * n;
    float* yr = y + (int64_t)blockIdx.x * n;
    double ss = 0;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) ss += (double)(xr[i] * xr[i]);
    const double tot = block_sum(ss, part);
    const float mean = (float)(tot / (double)n);
    const float scale = 1.0f / sqrtf(mean + eps);
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) yr[i] = w ? xr[i] * scale * w[i] : xr[i] * scale;
}

__global__ void scatter_rows_kernel(const uint8_t* staged, const int32_t* slots, int64_t row_bytes, uint8_t* table) {
    const uint8_t* src = staged + (int64_t)blockIdx.x * row_bytes;
    uint8_t* dst = table + (int64_t)slots[blockIdx.x] * row_bytes;
    if (row_bytes % 4 == 0) {
        for (int64_t i = threadIdx.x; i < row_bytes / 4; i += blockDim.x)
            reinterpret_cast<uint32_t*>(dst)[i] = reinterpret_cast<const uint32_t*>(src)[i];
    } else {
        for (int64_t i = threadIdx.x; i < row_bytes; i += blockDim.x) dst[i] = src[i];
    }
}

// A block of 256 threads per token.
__global__ void lookup_gate_kernel(GateArgs a, const int32_t* pos0) {
    __shared__ double part[8];
    const int64_t t = blockIdx.x, n = a.n;
    const float* xr = a.x + t * n;
    const float* kr = a.key + t * a.kv_stride;
    const float* vr = a.value + t * a.kv_stride;
    float* out = a.out + t * n;
    double ssx = 0, ssk = 0;
    for (int64_t j = threadIdx.x; j < n; j += blockDim.x) {
        ssx += (double)(xr[j] * xr[j]);
        ssk += (double)(kr[j] * kr[j]);
    }
    ssx = block_sum(ssx, part);
    ssk = block_sum(ssk, part);
    const float sx = 1.0f / sqrtf((float)(ssx / (double)n) + a.eps);
    const float sk = 1.0f / sqrtf((float)(ssk / (double)n) + a.eps);
    double dot = 0;
    for (int64_t j = threadIdx.x; j < n; j += blockDim.x)
        dot += (double)(xr[j] * sx * a.q_norm[j]) * (double)(kr[j] * sk * a.k_norm[j]);
    dot = block_sum(dot, part);
    const double sc = dot * (1.0 / sqrt((double)n));
    const double mag = sqrt(fmax(fabs(sc), 1e-6));
    const double z = sc > 0 ? mag : (sc < 0 ? -mag : 0.0);
    const float g = (float)(1.0 / (1.0 + exp(-z)));
    double ssv = 0;
    for (int64_t j = threadIdx.x; j < n; j += blockDim.x) {
        const float v = g * vr[j];
        out[j] = v;
        ssv += (double)(v * v);
    }
    if (!a.hist) return;
    ssv = block_sum(ssv, part);
    const float sv = 1.0f / sqrtf((float)(ssv / (double)n) + a.eps);
    float* h = a.hist + ((int64_t)*pos0 + t) * n;
    for (int64_t j = threadIdx.x; j < n; j += blockDim.x) h[j] = out[j] * sv * a.conv_norm[j];
}

__global__ void lookup_residual_kernel(float* x, const float* out, const float* hist, const float* conv, int64_t K,
                                       int64_t dil, int64_t n_tok, int64_t n, const int32_t* pos0) {
    const int64_t total = n_tok * n;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
        float v = out[i];
        if (conv) {
            const int64_t t = i / n, c = i % n, p = (int64_t)*pos0 + t;
            float acc = 0.0f;
            for (int64_t k = 0; k < K; ++k) {
                const int64_t q = p - (K - 1 - k) * dil;
                if (q >= 0) acc += conv[c * K + k] * hist[q * n + c];
            }
            v += acc / (1.0f + expf(-acc));
        }
        x[i] += v;
    }
}

__global__ void add_bias_kernel(float* x, const float* b, int64_t rows, int64_t n) {
    const int64_t total = rows * n;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x)
        x[i] += b[i % n];
}

// Block per (head, token), head_dim threads at most 256 (one value each for
// the norm; the first n_rot/2 threads rotate one pair each).
__global__ void norm_rope_kernel(float* x, RopeArgs a, const int32_t* pos0) {
    __shared__ float buf[256];
    __shared__ float part[8];
    const int64_t hd = a.head_dim;
    float* xh = x + ((int64_t)blockIdx.y * a.n_heads + blockIdx.x) * hd;
    const int tid = threadIdx.x;
    float val = tid < hd ? xh[tid] : 0.0f;
    if (a.norm_w) {
        float ss = warp_sum(val * val);
        if ((tid & 31) == 0) part[tid >> 5] = ss;
        __syncthreads();
        double tot = 0;
        for (int i = 0; i < (int)(blockDim.x >> 5); ++i) tot += part[i];
        const float mean = (float)(tot / (double)hd);
        const float scale = 1.0f / sqrtf(mean + a.eps);
        if (tid < hd) val = val * scale * a.norm_w[tid];
    }
    if (tid < hd) buf[tid] = val;
    __syncthreads();
    const int64_t half = a.n_rot / 2;
    if (tid < half) {
        // theta_i = pos * scale^i by repeated multiplication, as the CPU.
        float theta = (float)(*pos0 + (int64_t)blockIdx.y);
        for (int i = 0; i < tid; ++i) theta *= a.theta_scale;
        const float ff = a.freq_factors ? a.freq_factors[tid] : 1.0f;
        const float angle = a.freq_scale * (theta / ff);
        float sn, cs;
        sincosf(angle, &sn, &cs);
        const int64_t ia = a.neox ? tid : 2 * tid, ib = a.neox ? tid + half : 2 * tid + 1;
        // Each thread owns its pair (ia, ib): no other thread touches them.
        const float x0 = buf[ia], x1 = buf[ib];
        buf[ia] = fmaf(x0, cs, -(x1 * sn));
        buf[ib] = fmaf(x0, sn, x1 * cs);
    }
    __syncthreads();
    if (tid < hd) xh[tid] = buf[tid];
}

__global__ void store_kv_kernel(const float* k, const float* v, __half* kc, __half* vc, int64_t n_tok, int64_t n,
                                const int32_t* pos0) {
    const int64_t total = n_tok * n;
    const int64_t base = (int64_t)(*pos0) * n;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
        kc[base + i] = __float2half_rn(k[i]);
        vc[base + i] = __float2half_rn(v[i]);
    }
}

__global__ void silu_mul_kernel(const float* g, const float* u, float* h, int64_t n) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        h[i] = (g[i] / (1.0f + expf(-g[i]))) * u[i];
}

// Block per row, 256 threads.
__global__ void softmax_kernel(const float* x, float* y, int64_t n) {
    __shared__ float part[8];
    const float* xr = x + (int64_t)blockIdx.x * n;
    float* yr = y + (int64_t)blockIdx.x * n;
    const int nw = (int)(blockDim.x >> 5), lane = threadIdx.x & 31, w = threadIdx.x >> 5;
    float mx = -INFINITY;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) mx = fmaxf(mx, xr[i]);
    mx = warp_max(mx);
    if (lane == 0) part[w] = mx;
    __syncthreads();
    mx = part[0];
    for (int i = 1; i < nw; ++i) mx = fmaxf(mx, part[i]);
    __syncthreads();
    float sum = 0;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) sum += expf(xr[i] - mx);
    sum = warp_sum(sum);
    if (lane == 0) part[w] = sum;
    __syncthreads();
    sum = 0;
    for (int i = 0; i < nw; ++i) sum += part[i];
    const float inv = 1.0f / sum;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) yr[i] = expf(xr[i] - mx) * inv;
}

// Split-K attention. Grid (n_split, n_head, n_tok), 4 warps; D = head_dim/32
// values per lane (D <= 8). Each warp walks keys start+w, start+w+4, ... with
// an online softmax; the 4 warps are merged in shared memory.
constexpr int kAttnWarps = 4;
constexpr int kMaxD = 8;  // head_dim <= 256

__global__ void __launch_bounds__(kAttnWarps * kWarp) attn_partial_kernel(AttnArgs a, const int32_t* pos0) {
    __shared__ float sq[kMaxD * kWarp];
    __shared__ float sm[kAttnWarps], sl[kAttnWarps];
    __shared__ float sacc[kAttnWarps][kMaxD * kWarp];
    const int64_t split = blockIdx.x, h = blockIdx.y, t = blockIdx.z;
    const int64_t hd = a.head_dim, D = hd / 32;
    const int lane = threadIdx.x & 31, w = threadIdx.x >> 5;
    const int64_t group = a.n_head / a.n_head_kv, g = h / group;
    const int64_t kv_stride = a.n_head_kv * hd;
    const int64_t n_valid = (int64_t)(*pos0) + t + 1;
    const int64_t start = split * a.chunk;
    const int64_t end = min(start + a.chunk, n_valid);
    const float scale = 1.0f / sqrtf((float)hd);

    const float* q = a.q + (t * a.n_head + h) * hd;
    for (int64_t i = threadIdx.x; i < hd; i += blockDim.x) sq[i] = q[i] * scale;
    __syncthreads();
    float qv[kMaxD], acc[kMaxD];
#pragma unroll
    for (int i = 0; i < kMaxD; ++i) {
        qv[i] = i < D ? sq[i * 32 + lane] : 0.0f;
        acc[i] = 0.0f;
    }
    float m = -INFINITY, l = 0.0f;
    const __half* K = static_cast<const __half*>(a.k);
    const __half* V = static_cast<const __half*>(a.v);
    for (int64_t j = start + w; j < end; j += kAttnWarps) {
        const __half* kr = K + j * kv_stride + g * hd;
        float dot = 0.0f;
#pragma unroll
        for (int i = 0; i < kMaxD; ++i)
            if (i < D) dot += qv[i] * __half2float(kr[i * 32 + lane]);
        const float sc = warp_sum(dot);
        const float mn = fmaxf(m, sc);
        const float corr = expf(m - mn);  // m = -inf at first: 0
        const float p = expf(sc - mn);
        l = l * corr + p;
        const __half* vr = V + j * kv_stride + g * hd;
#pragma unroll
        for (int i = 0; i < kMaxD; ++i)
            if (i < D) acc[i] = acc[i] * corr + p * __half2float(vr[i * 32 + lane]);
        m = mn;
    }
    if (lane == 0) {
        sm[w] = m;
        sl[w] = l;
    }
#pragma unroll
    for (int i = 0; i < kMaxD; ++i)
        if (i < D) sacc[w][i * 32 + lane] = acc[i];
    __syncthreads();
    float M = -INFINITY;
    for (int i = 0; i < kAttnWarps; ++i) M = fmaxf(M, sm[i]);
    float* out = a.partial + ((t * a.n_head + h) * a.n_split + split) * (hd + 2);
    if (M == -INFINITY) {  // no key in this split for this query
        for (int64_t i = threadIdx.x; i < hd + 2; i += blockDim.x) out[i] = i == 0 ? -INFINITY : 0.0f;
        return;
    }
    for (int64_t i = threadIdx.x; i < hd; i += blockDim.x) {
        float s = 0;
        for (int ww = 0; ww < kAttnWarps; ++ww)
            if (sm[ww] != -INFINITY) s += sacc[ww][i] * expf(sm[ww] - M);
        out[2 + i] = s;
    }
    if (threadIdx.x == 0) {
        float L = 0;
        for (int ww = 0; ww < kAttnWarps; ++ww)
            if (sm[ww] != -INFINITY) L += sl[ww] * expf(sm[ww] - M);
        out[0] = M;
        out[1] = L;
    }
}

// Grid (n_head, n_tok), head_dim threads: merges the splits.
__global__ void attn_merge_kernel(AttnArgs a) {
    const int64_t h = blockIdx.x, t = blockIdx.y, hd = a.head_dim;
    const float* p = a.partial + (t * a.n_head + h) * a.n_split * (hd + 2);
    float M = -INFINITY;
    for (int64_t s = 0; s < a.n_split; ++s) M = fmaxf(M, p[s * (hd + 2)]);
    const int64_t d = threadIdx.x;
    if (d >= hd) return;
    float L = 0, acc = 0;
    for (int64_t s = 0; s < a.n_split; ++s) {
        const float* ps = p + s * (hd + 2);
        if (ps[0] == -INFINITY) continue;
        const float f = expf(ps[0] - M);
        L += ps[1] * f;
        acc += ps[2 + d] * f;
    }
    a.out[(t * a.n_head + h) * hd + d] = L > 0 ? acc / L : 0.0f;
}

int grid_for(int64_t n, int threads) {
    const int64_t b = (n + threads - 1) / threads;
    return (int)(b < 1 ? 1 : (b > 65535 * 8 ? 65535 * 8 : b));
}

template <template <GgmlType> class Op, class... A>
cudaError_t dispatch(GgmlType t, A&&... args) {
    switch (t) {
#define EG_CASE(name) \
    case GgmlType::name: return Op<GgmlType::name>::run(args...);
        EG_CHUNK32_TYPES(EG_CASE)
#undef EG_CASE
        default: return cudaErrorInvalidValue;
    }
}

template <GgmlType T>
struct MatvecOp {
    static cudaError_t run(const DevMatrix& W, const float* x, const float* bias, float* y, bool acc, cudaStream_t s) {
        const dim3 block(kWarp, kRows);
        const int64_t per_block = (int64_t)kRows * kWarpRows;
        const unsigned grid = (unsigned)((W.n + per_block - 1) / per_block);
        matvec_kernel<T><<<grid, block, 0, s>>>(static_cast<const uint8_t*>(W.data), W.n, W.k, W.row_bytes, x, bias,
                                                y, acc ? 1 : 0);
        return cudaGetLastError();
    }
};

template <GgmlType T>
struct DequantOp {
    static cudaError_t run(const DevMatrix& W, void* out, cudaStream_t s) {
        dequant_kernel<T><<<grid_for(W.n * (W.k / 32), 256), 256, 0, s>>>(
            static_cast<const uint8_t*>(W.data), W.n, W.k, W.row_bytes, static_cast<__half*>(out));
        return cudaGetLastError();
    }
};

template <GgmlType T>
struct GetRowsOp {
    static cudaError_t run(const DevMatrix& W, const int32_t* ids, int64_t n_ids, float* out, cudaStream_t s) {
        const dim3 block(kWarp, kRows);
        get_rows_kernel<T><<<(unsigned)((n_ids + kRows - 1) / kRows), block, 0, s>>>(
            static_cast<const uint8_t*>(W.data), W.k, W.row_bytes, ids, n_ids, out);
        return cudaGetLastError();
    }
};

}  // namespace

bool type_supported(GgmlType t) { return chunk32_supported(t); }
std::string supported_type_names() { return chunk32_type_names(); }

cudaError_t matvec(const DevMatrix& W, const float* x, const float* bias, float* y, bool accumulate, cudaStream_t s) {
    if (W.n <= 0) return cudaSuccess;
    return dispatch<MatvecOp>(W.type, W, x, bias, y, accumulate, s);
}

cudaError_t dequant_f16(const DevMatrix& W, void* out, cudaStream_t s) {
    if (W.n <= 0) return cudaSuccess;
    return dispatch<DequantOp>(W.type, W, out, s);
}

cudaError_t get_rows(const DevMatrix& W, const int32_t* ids, int64_t n_ids, float* out, cudaStream_t s) {
    if (n_ids <= 0) return cudaSuccess;
    return dispatch<GetRowsOp>(W.type, W, ids, n_ids, out, s);
}

cudaError_t f32_to_f16(const float* in, void* out, int64_t n, cudaStream_t s) {
    if (n <= 0) return cudaSuccess;
    f32_to_f16_kernel<<<grid_for(n, 256), 256, 0, s>>>(in, static_cast<__half*>(out), n);
    return cudaGetLastError();
}

cudaError_t rms_norm(const float* x, const float* w, float* y, int64_t rows, int64_t n, float eps, cudaStream_t s) {
    if (rows <= 0) return cudaSuccess;
    rms_norm_kernel<<<(unsigned)rows, 256, 0, s>>>(x, w, y, n, eps);
    return cudaGetLastError();
}

cudaError_t scatter_rows(const void* staged, const int32_t* slots, int64_t n, int64_t row_bytes, void* table,
                         cudaStream_t s) {
    if (n <= 0) return cudaSuccess;
    scatter_rows_kernel<<<(unsigned)n, 128, 0, s>>>(static_cast<const uint8_t*>(staged), slots, row_bytes,
                                                    static_cast<uint8_t*>(table));
    return cudaGetLastError();
}

cudaError_t lookup_gate(const GateArgs& a, const int32_t* pos0, cudaStream_t s) {
    if (a.n_tok <= 0) return cudaSuccess;
    lookup_gate_kernel<<<(unsigned)a.n_tok, 256, 0, s>>>(a, pos0);
    return cudaGetLastError();
}

cudaError_t lookup_residual(float* x, const float* out, const float* hist, const float* conv, int64_t K, int64_t dil,
                            int64_t n_tok, int64_t n, const int32_t* pos0, cudaStream_t s) {
    if (n_tok * n <= 0) return cudaSuccess;
    lookup_residual_kernel<<<grid_for(n_tok * n, 256), 256, 0, s>>>(x, out, hist, conv, K, dil, n_tok, n, pos0);
    return cudaGetLastError();
}

cudaError_t add_bias(float* x, const float* b, int64_t rows, int64_t n, cudaStream_t s) {
    if (rows * n <= 0) return cudaSuccess;
    add_bias_kernel<<<grid_for(rows * n, 256), 256, 0, s>>>(x, b, rows, n);
    return cudaGetLastError();
}

cudaError_t norm_rope(float* x, const RopeArgs& a, const int32_t* pos0, cudaStream_t s) {
    if (a.head_dim > 256 || a.n_rot > a.head_dim || a.n_rot % 2) return cudaErrorInvalidValue;
    if (a.n_tok <= 0) return cudaSuccess;
    const int threads = (int)((a.head_dim + 31) / 32 * 32);
    norm_rope_kernel<<<dim3((unsigned)a.n_heads, (unsigned)a.n_tok), threads, 0, s>>>(x, a, pos0);
    return cudaGetLastError();
}

cudaError_t store_kv(const float* k, const float* v, void* k_cache, void* v_cache, int64_t n_tok, int64_t n,
                     const int32_t* pos0, cudaStream_t s) {
    if (n_tok * n <= 0) return cudaSuccess;
    store_kv_kernel<<<grid_for(n_tok * n, 256), 256, 0, s>>>(k, v, static_cast<__half*>(k_cache),
                                                            static_cast<__half*>(v_cache), n_tok, n, pos0);
    return cudaGetLastError();
}

cudaError_t silu_mul(const float* g, const float* u, float* h, int64_t n, cudaStream_t s) {
    if (n <= 0) return cudaSuccess;
    silu_mul_kernel<<<grid_for(n, 256), 256, 0, s>>>(g, u, h, n);
    return cudaGetLastError();
}

cudaError_t softmax(const float* x, float* y, int64_t rows, int64_t n, cudaStream_t s) {
    if (rows <= 0) return cudaSuccess;
    softmax_kernel<<<(unsigned)rows, 256, 0, s>>>(x, y, n);
    return cudaGetLastError();
}

void attention_split(int64_t n_kv, int64_t max_split, int64_t* n_split, int64_t* chunk) {
    int64_t c = 256;
    if (max_split < 1) max_split = 1;
    if ((n_kv + c - 1) / c > max_split) c = ((n_kv + max_split - 1) / max_split + 31) / 32 * 32;
    *chunk = c;
    *n_split = n_kv <= 0 ? 1 : (n_kv + c - 1) / c;
}

cudaError_t attention(const AttnArgs& a, const int32_t* pos0, cudaStream_t s) {
    if (a.head_dim > 256 || a.head_dim % 32 || a.n_head_kv <= 0 || a.n_head % a.n_head_kv) return cudaErrorInvalidValue;
    if (a.n_tok <= 0) return cudaSuccess;
    attn_partial_kernel<<<dim3((unsigned)a.n_split, (unsigned)a.n_head, (unsigned)a.n_tok), kAttnWarps * kWarp, 0, s>>>(
        a, pos0);
    if (cudaError_t e = cudaGetLastError(); e != cudaSuccess) return e;
    attn_merge_kernel<<<dim3((unsigned)a.n_head, (unsigned)a.n_tok), (unsigned)a.head_dim, 0, s>>>(a);
    return cudaGetLastError();
}

}  // namespace eg::cuda
