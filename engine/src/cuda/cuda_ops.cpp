// Host wrappers of the device operations for tests (cuda/cuda_ops.h): each
// uploads its inputs, runs one operation on the default stream and downloads.
#include "cuda/cuda_ops.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include "cuda/cuda_kernels.h"
#include "cuda/cuda_util.h"

namespace eg::cuda_ops {

using cuda::DevBuffer;

namespace {

class Op {
public:
    Op(int dev, const char* name) : dev_(dev), name_(name) {}

    Status begin() {
        int n = 0;
        if (cudaError_t e = cudaGetDeviceCount(&n); e != cudaSuccess || dev_ < 0 || dev_ >= n) {
            (void)cudaGetLastError();
            return Error{"cuda:" + std::to_string(dev_) + ": no such GPU for " + name_};
        }
        return check(cudaSetDevice(dev_), "cudaSetDevice");
    }

    Status check(cudaError_t e, const char* call) const {
        if (e == cudaSuccess) return {};
        return cuda::cuda_error(dev_, call, name_, e);
    }

    // A device copy of host data (or an uninitialized buffer when src is null).
    Result<void*> put(const void* src, uint64_t bytes) {
        bufs_.emplace_back();
        DevBuffer& b = bufs_.back();
        if (auto st = b.alloc(dev_, std::max<uint64_t>(bytes, 4), std::string("for ") + name_); !st) return st.error();
        if (src) {
            if (auto st = check(cudaMemcpy(b.get(), src, bytes, cudaMemcpyHostToDevice), "cudaMemcpy"); !st)
                return st.error();
        }
        return b.get();
    }

    Status get(void* dst, const void* src, uint64_t bytes) {
        if (auto st = check(cudaDeviceSynchronize(), "cudaDeviceSynchronize"); !st) return st;
        return check(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost), "cudaMemcpy");
    }

    Result<cuda::DevMatrix> matrix(const WeightView& W) {
        if (!cuda::type_supported(W.type) || W.k % 32 != 0)
            return Error{std::string(name_) + ": type " + std::string(type_name((uint32_t)W.type)) + " with " +
                         std::to_string(W.k) + " columns is not computed by the CUDA kernels"};
        auto d = put(W.data, (uint64_t)(W.n * W.row_bytes));
        if (!d) return d.error();
        return cuda::DevMatrix{W.type, W.k, W.n, W.row_bytes, *d};
    }

private:
    int dev_;
    const char* name_;
    std::vector<DevBuffer> bufs_;
};

#define EG_TRY_PUT(var, expr)           \
    auto var##_r = (expr);              \
    if (!var##_r) return var##_r.error(); \
    void* var = *var##_r

}  // namespace

Status rms_norm(int dev, const float* x, const float* w, float* y, int64_t rows, int64_t n, float eps) {
    Op op(dev, "rms_norm");
    if (auto st = op.begin(); !st) return st;
    EG_TRY_PUT(dx, op.put(x, (uint64_t)(rows * n) * 4));
    void* dw = nullptr;
    if (w) {
        EG_TRY_PUT(t, op.put(w, (uint64_t)n * 4));
        dw = t;
    }
    EG_TRY_PUT(dy, op.put(nullptr, (uint64_t)(rows * n) * 4));
    if (auto st = op.check(cuda::rms_norm((const float*)dx, (const float*)dw, (float*)dy, rows, n, eps, nullptr),
                           "launch");
        !st)
        return st;
    return op.get(y, dy, (uint64_t)(rows * n) * 4);
}

Status rope(int dev, float* x, int64_t n_tok, int64_t n_heads, int64_t head_dim, int64_t pos0, const RopeTable& rt,
            RopeType type, const float* norm_w, float eps) {
    Op op(dev, "rope");
    if (auto st = op.begin(); !st) return st;
    const uint64_t bytes = (uint64_t)(n_tok * n_heads * head_dim) * 4;
    EG_TRY_PUT(dx, op.put(x, bytes));
    const int32_t p = (int32_t)pos0;
    EG_TRY_PUT(dp, op.put(&p, 4));
    cuda::RopeArgs a;
    a.n_tok = n_tok;
    a.n_heads = n_heads;
    a.head_dim = head_dim;
    a.n_rot = rt.n_rot;
    a.theta_scale = std::pow(rt.freq_base, -2.0f / (float)rt.n_rot);
    a.freq_scale = rt.freq_scale;
    a.neox = type == RopeType::NeoX;
    a.eps = eps;
    if (rt.freq_factors) {
        EG_TRY_PUT(t, op.put(rt.freq_factors, (uint64_t)(rt.n_rot / 2) * 4));
        a.freq_factors = (const float*)t;
    }
    if (norm_w) {
        EG_TRY_PUT(t, op.put(norm_w, (uint64_t)head_dim * 4));
        a.norm_w = (const float*)t;
    }
    if (auto st = op.check(cuda::norm_rope((float*)dx, a, (const int32_t*)dp, nullptr), "launch"); !st) return st;
    return op.get(x, dx, bytes);
}

Status silu_mul(int dev, const float* g, const float* u, float* h, int64_t n) {
    Op op(dev, "silu_mul");
    if (auto st = op.begin(); !st) return st;
    EG_TRY_PUT(dg, op.put(g, (uint64_t)n * 4));
    EG_TRY_PUT(du, op.put(u, (uint64_t)n * 4));
    EG_TRY_PUT(dh, op.put(nullptr, (uint64_t)n * 4));
    if (auto st = op.check(cuda::silu_mul((const float*)dg, (const float*)du, (float*)dh, n, nullptr), "launch"); !st)
        return st;
    return op.get(h, dh, (uint64_t)n * 4);
}

Status softmax(int dev, const float* x, float* y, int64_t rows, int64_t n) {
    Op op(dev, "softmax");
    if (auto st = op.begin(); !st) return st;
    EG_TRY_PUT(dx, op.put(x, (uint64_t)(rows * n) * 4));
    EG_TRY_PUT(dy, op.put(nullptr, (uint64_t)(rows * n) * 4));
    if (auto st = op.check(cuda::softmax((const float*)dx, (float*)dy, rows, n, nullptr), "launch"); !st) return st;
    return op.get(y, dy, (uint64_t)(rows * n) * 4);
}

Status attention(int dev, const AttentionArgs& a) {
    Op op(dev, "attention");
    if (auto st = op.begin(); !st) return st;
    const int64_t QD = a.n_head * a.head_dim, KVD = a.n_head_kv * a.head_dim;
    const int64_t n_kv = a.pos0 + a.n_tok;
    EG_TRY_PUT(dq, op.put(a.q, (uint64_t)(a.n_tok * QD) * 4));
    EG_TRY_PUT(dk, op.put(a.k, (uint64_t)(n_kv * KVD) * 2));
    EG_TRY_PUT(dv, op.put(a.v, (uint64_t)(n_kv * KVD) * 2));
    EG_TRY_PUT(dout, op.put(nullptr, (uint64_t)(a.n_tok * QD) * 4));
    const int32_t p = (int32_t)a.pos0;
    EG_TRY_PUT(dp, op.put(&p, 4));
    cuda::AttnArgs c;
    c.q = (const float*)dq;
    c.k = dk;
    c.v = dv;
    c.out = (float*)dout;
    c.n_tok = a.n_tok;
    c.n_head = a.n_head;
    c.n_head_kv = a.n_head_kv;
    c.head_dim = a.head_dim;
    // Decode: the backend's fixed chunks of 256; prefill: at most 8 splits.
    if (a.n_tok == 1) {
        c.chunk = 256;
        c.n_split = (n_kv + 255) / 256;
    } else {
        cuda::attention_split(n_kv, 8, &c.n_split, &c.chunk);
    }
    EG_TRY_PUT(dpart, op.put(nullptr, (uint64_t)(a.n_tok * a.n_head * c.n_split * (a.head_dim + 2)) * 4));
    c.partial = (float*)dpart;
    if (auto st = op.check(cuda::attention(c, (const int32_t*)dp, nullptr), "launch"); !st) return st;
    return op.get(a.out, dout, (uint64_t)(a.n_tok * QD) * 4);
}

Status matvec(int dev, const WeightView& W, const float* x, float* y) {
    Op op(dev, "matvec");
    if (auto st = op.begin(); !st) return st;
    auto m = op.matrix(W);
    if (!m) return m.error();
    EG_TRY_PUT(dx, op.put(x, (uint64_t)W.k * 4));
    EG_TRY_PUT(dy, op.put(nullptr, (uint64_t)W.n * 4));
    if (auto st = op.check(cuda::matvec(*m, (const float*)dx, nullptr, (float*)dy, false, nullptr), "launch"); !st)
        return st;
    return op.get(y, dy, (uint64_t)W.n * 4);
}

Status gemm(int dev, const WeightView& W, const float* X, int64_t n_tok, float* Y) {
    Op op(dev, "gemm");
    if (auto st = op.begin(); !st) return st;
    auto m = op.matrix(W);
    if (!m) return m.error();
    EG_TRY_PUT(dx, op.put(X, (uint64_t)(n_tok * W.k) * 4));
    EG_TRY_PUT(dx16, op.put(nullptr, (uint64_t)(n_tok * W.k) * 2));
    EG_TRY_PUT(dw16, op.put(nullptr, (uint64_t)(W.n * W.k) * 2));
    EG_TRY_PUT(dy, op.put(nullptr, (uint64_t)(n_tok * W.n) * 4));
    if (auto st = op.check(cuda::f32_to_f16((const float*)dx, dx16, n_tok * W.k, nullptr), "launch"); !st) return st;
    if (auto st = op.check(cuda::dequant_f16(*m, dw16, nullptr), "launch"); !st) return st;
    cublasHandle_t h = nullptr;
    if (cublasStatus_t bs = cublasCreate(&h); bs != CUBLAS_STATUS_SUCCESS)
        return cuda::cublas_error(dev, "cublasCreate", "gemm", bs);
    const float alpha = 1.0f, beta = 0.0f;
    const cublasStatus_t bs = cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, (int)W.n, (int)n_tok, (int)W.k, &alpha, dw16,
                                           CUDA_R_16F, (int)W.k, dx16, CUDA_R_16F, (int)W.k, &beta, dy, CUDA_R_32F,
                                           (int)W.n, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
    Status st = bs == CUBLAS_STATUS_SUCCESS ? Status{} : Status{cuda::cublas_error(dev, "cublasGemmEx", "gemm", bs)};
    if (st) st = op.get(Y, dy, (uint64_t)(n_tok * W.n) * 4);
    (void)cublasDestroy(h);
    return st;
}

Status get_rows(int dev, const WeightView& W, const int32_t* ids, int64_t n_ids, float* out) {
    Op op(dev, "get_rows");
    if (auto st = op.begin(); !st) return st;
    for (int64_t i = 0; i < n_ids; ++i)
        if (ids[i] < 0 || ids[i] >= W.n)
            return Error{"get_rows: id " + std::to_string(ids[i]) + " is outside the table's " +
                         std::to_string(W.n) + " rows"};
    auto m = op.matrix(W);
    if (!m) return m.error();
    EG_TRY_PUT(di, op.put(ids, (uint64_t)n_ids * 4));
    EG_TRY_PUT(dout, op.put(nullptr, (uint64_t)(n_ids * W.k) * 4));
    if (auto st = op.check(cuda::get_rows(*m, (const int32_t*)di, n_ids, (float*)dout, nullptr), "launch"); !st)
        return st;
    return op.get(out, dout, (uint64_t)(n_ids * W.k) * 4);
}

Status lookup_gate(int dev, const float* x, const float* kv, int64_t kv_stride, int64_t value_offset,
                   const float* q_norm, const float* k_norm, const float* conv_norm, float* hist, int64_t n_ctx,
                   int64_t n_tok, int64_t n, int64_t pos0, float eps, float* out) {
    Op op(dev, "lookup_gate");
    if (auto st = op.begin(); !st) return st;
    if (conv_norm && (pos0 < 0 || pos0 + n_tok > n_ctx))
        return Error{"lookup_gate: positions past the history of " + std::to_string(n_ctx)};
    const int32_t p0 = (int32_t)pos0;
    EG_TRY_PUT(dx, op.put(x, (uint64_t)(n_tok * n) * 4));
    EG_TRY_PUT(dkv, op.put(kv, (uint64_t)(n_tok * kv_stride) * 4));
    EG_TRY_PUT(dq, op.put(q_norm, (uint64_t)n * 4));
    EG_TRY_PUT(dk, op.put(k_norm, (uint64_t)n * 4));
    EG_TRY_PUT(dout, op.put(nullptr, (uint64_t)(n_tok * n) * 4));
    EG_TRY_PUT(dpos, op.put(&p0, 4));
    void* dcn = nullptr;
    void* dh = nullptr;
    if (conv_norm) {
        EG_TRY_PUT(c, op.put(conv_norm, (uint64_t)n * 4));
        EG_TRY_PUT(h, op.put(hist, (uint64_t)(n_ctx * n) * 4));
        dcn = c;
        dh = h;
    }
    cuda::GateArgs a;
    a.x = (const float*)dx;
    a.key = (const float*)dkv;
    a.value = (const float*)dkv + value_offset;
    a.kv_stride = kv_stride;
    a.q_norm = (const float*)dq;
    a.k_norm = (const float*)dk;
    a.out = (float*)dout;
    a.hist = (float*)dh;
    a.conv_norm = (const float*)dcn;
    a.n_tok = n_tok;
    a.n = n;
    a.eps = eps;
    if (auto st = op.check(cuda::lookup_gate(a, (const int32_t*)dpos, nullptr), "launch"); !st) return st;
    if (auto st = op.get(out, dout, (uint64_t)(n_tok * n) * 4); !st) return st;
    return dh ? op.get(hist, dh, (uint64_t)(n_ctx * n) * 4) : Status{};
}

Status lookup_residual(int dev, float* x, const float* out, const float* hist, int64_t n_ctx, const float* conv,
                       int64_t K, int64_t dil, int64_t n_tok, int64_t n, int64_t pos0) {
    Op op(dev, "lookup_residual");
    if (auto st = op.begin(); !st) return st;
    if (conv && (pos0 < 0 || pos0 + n_tok > n_ctx))
        return Error{"lookup_residual: positions past the history of " + std::to_string(n_ctx)};
    const int32_t p0 = (int32_t)pos0;
    EG_TRY_PUT(dx, op.put(x, (uint64_t)(n_tok * n) * 4));
    EG_TRY_PUT(dout, op.put(out, (uint64_t)(n_tok * n) * 4));
    EG_TRY_PUT(dpos, op.put(&p0, 4));
    void* dh = nullptr;
    void* dw = nullptr;
    if (conv) {
        EG_TRY_PUT(h, op.put(hist, (uint64_t)(n_ctx * n) * 4));
        EG_TRY_PUT(w, op.put(conv, (uint64_t)(n * K) * 4));
        dh = h;
        dw = w;
    }
    if (auto st = op.check(cuda::lookup_residual((float*)dx, (const float*)dout, (const float*)dh, (const float*)dw, K,
                                                 dil, n_tok, n, (const int32_t*)dpos, nullptr),
                           "launch");
        !st)
        return st;
    return op.get(x, dx, (uint64_t)(n_tok * n) * 4);
}

Status scatter_rows(int dev, const void* staged, const int32_t* slots, int64_t n, int64_t row_bytes, void* table,
                    int64_t n_slots) {
    Op op(dev, "scatter_rows");
    if (auto st = op.begin(); !st) return st;
    for (int64_t i = 0; i < n; ++i)
        if (slots[i] < 0 || slots[i] >= n_slots)
            return Error{"scatter_rows: slot " + std::to_string(slots[i]) + " is outside the table's " +
                         std::to_string(n_slots) + " slots"};
    EG_TRY_PUT(ds, op.put(staged, (uint64_t)(n * row_bytes)));
    EG_TRY_PUT(di, op.put(slots, (uint64_t)n * 4));
    EG_TRY_PUT(dt, op.put(table, (uint64_t)(n_slots * row_bytes)));
    if (auto st = op.check(cuda::scatter_rows(ds, (const int32_t*)di, n, row_bytes, dt, nullptr), "launch"); !st)
        return st;
    return op.get(table, dt, (uint64_t)(n_slots * row_bytes));
}

}  // namespace eg::cuda_ops
