// The CUDA backend (host part): GPU probing, weight upload, the per-layer
// launch sequence, the decode CUDA graph and the hand-offs with the host.
//
// Data flow of one forward: x [n_tok, n_embd] is copied into pinned staging,
// uploaded on a side stream (an event orders it before the compute stream),
// the blocks run on the compute stream, x comes back. Decode (n_tok == 1)
// is captured once as a CUDA graph and replayed: the step's position is
// read from device memory by the kernels that need it (RoPE, KV store,
// attention), so the same graph serves every position.
//
// Matrices: decode multiplies the quantized blocks directly (matvec, F32
// activations); prefill dequantizes each weight to an F16 scratch and calls
// cublasGemmEx (F16 inputs, F32 accumulation and output).
//
// Engram modules (an extension's LookupModule) run on the GPU. The
// extension says which rows each position reads (hashing, on the host) and
// serves them from its DRAM/SSD tiers; the backend keeps the hot rows in a
// VRAM row cache (LookupStager on the host says which slot holds which row).
// Before a block's kernels are queued, the rows its batch misses are copied
// on the side stream into their slots, and the compute stream waits for that
// copy only when it reaches the module; a gather kernel then reads every row
// from its slot. Decode stays one captured graph: the slots of the step's
// rows are in a fixed device array the graph's gather reads.
// A module the GPU cannot run (a row or weight type the kernels do not read)
// runs on the CPU as before: x is downloaded, apply() adds to it on the host,
// x is uploaded again, and the range runs without the decode graph.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <thread>
#include <vector>

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include "core/log.h"
#include "core/thread_pool.h"
#include "cuda/cuda_backend.h"
#include "cuda/cuda_kernels.h"
#include "cuda/cuda_util.h"
#include "model/model.h"
#include "runtime/lookup_stager.h"

namespace eg {

namespace cuda {

std::string mib(uint64_t bytes) {
    const uint64_t m = (bytes + (1u << 20) - 1) >> 20;
    return std::to_string(m) + " MiB";
}

Error cuda_error(int device, const char* call, const std::string& what, cudaError_t e) {
    return Error{"cuda:" + std::to_string(device) + ": " + call + " (" + what + ") failed: " + cudaGetErrorString(e)};
}

Error cublas_error(int device, const char* call, const std::string& what, cublasStatus_t st) {
    return Error{"cuda:" + std::to_string(device) + ": " + call + " (" + what + ") failed with cuBLAS status " +
                 std::to_string((int)st)};
}

Status DevBuffer::alloc(int device, uint64_t bytes, const std::string& what) {
    reset();
    if (bytes == 0) return {};
    void* p = nullptr;
    const cudaError_t e = cudaMalloc(&p, bytes);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();  // clear the sticky-free allocation error
        size_t free_b = 0, total_b = 0;
        (void)cudaMemGetInfo(&free_b, &total_b);
        if (e == cudaErrorMemoryAllocation)
            return Error{"cuda:" + std::to_string(device) + ": out of memory " + what + " (needs " + mib(bytes) +
                         ", " + mib(free_b) + " free)"};
        return cuda_error(device, "cudaMalloc", what, e);
    }
    p_ = p;
    bytes_ = bytes;
    return {};
}

void DevBuffer::reset() {
    if (p_) (void)cudaFree(p_);
    p_ = nullptr;
    bytes_ = 0;
}

}  // namespace cuda

using cuda::DevBuffer;
using cuda::DevMatrix;

bool cuda_compiled() { return true; }

namespace {

// Times `reps` runs of fn on the current device; seconds per run.
template <class F>
double time_runs(int reps, F&& fn) {
    cudaEvent_t a = nullptr, b = nullptr;
    if (cudaEventCreate(&a) != cudaSuccess || cudaEventCreate(&b) != cudaSuccess) return 0;
    fn();  // warm-up
    (void)cudaEventRecord(a);
    for (int i = 0; i < reps; ++i) fn();
    (void)cudaEventRecord(b);
    (void)cudaEventSynchronize(b);
    float ms = 0;
    (void)cudaEventElapsedTime(&ms, a, b);
    (void)cudaEventDestroy(a);
    (void)cudaEventDestroy(b);
    return (double)ms / 1000.0 / reps;
}

void measure_bandwidth(GpuInfo& g) {
    const uint64_t n = 256ull << 20;  // 256 MiB per copy
    if (g.vram_free < 3 * n) return;
    void* host = nullptr;
    void *d0 = nullptr, *d1 = nullptr;
    if (cudaMallocHost(&host, n) == cudaSuccess && cudaMalloc(&d0, n) == cudaSuccess &&
        cudaMalloc(&d1, n) == cudaSuccess) {
        std::memset(host, 1, n);
        const double th = time_runs(4, [&] { (void)cudaMemcpy(d0, host, n, cudaMemcpyHostToDevice); });
        // A device copy reads n bytes and writes n: HBM moves 2n.
        const double td = time_runs(10, [&] { (void)cudaMemcpy(d1, d0, n, cudaMemcpyDeviceToDevice); });
        if (th > 0) g.h2d_GBps = (double)n / th / 1e9;
        if (td > 0) g.vram_read_GBps = 2.0 * (double)n / td / 1e9;
    }
    (void)cudaGetLastError();
    if (d1) (void)cudaFree(d1);
    if (d0) (void)cudaFree(d0);
    if (host) (void)cudaFreeHost(host);
}

}  // namespace

std::vector<GpuInfo> cuda_probe(bool measure, std::string* why_none) {
    std::vector<GpuInfo> out;
    int n = 0;
    const cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        if (why_none)
            *why_none = std::string("no usable CUDA driver or device (cudaGetDeviceCount: ") + cudaGetErrorString(e) +
                        ")";
        return out;
    }
    if (n == 0) {
        if (why_none) *why_none = "the CUDA driver reports no GPU";
        return out;
    }
    int prev = 0;
    (void)cudaGetDevice(&prev);
    for (int i = 0; i < n; ++i) {
        cudaDeviceProp p{};
        if (cudaGetDeviceProperties(&p, i) != cudaSuccess || cudaSetDevice(i) != cudaSuccess) {
            (void)cudaGetLastError();
            continue;
        }
        GpuInfo g;
        g.index = i;
        g.name = p.name;
        g.cc_major = p.major;
        g.cc_minor = p.minor;
        size_t fb = 0, tb = 0;
        if (cudaMemGetInfo(&fb, &tb) == cudaSuccess) {
            g.vram_free = fb;
            g.vram_total = tb;
        }
        if (measure) measure_bandwidth(g);
        out.push_back(std::move(g));
    }
    (void)cudaSetDevice(prev);
    if (out.empty() && why_none) *why_none = "no CUDA device could be queried";
    return out;
}

namespace {

struct DevLayer {
    const float *attn_norm = nullptr, *ffn_norm = nullptr;
    const float *bq = nullptr, *bk = nullptr, *bv = nullptr, *q_norm = nullptr, *k_norm = nullptr;
    DevMatrix wq, wk, wv, wo, gate, up, down;
};

// An Engram module on the GPU: its weights, its VRAM row cache and what a
// batch's rows need on the way there.
struct DevLookup {
    const LookupModule* mod = nullptr;
    int64_t il = 0;
    DevMatrix wkv, key, value;
    const float *key_bias = nullptr, *value_bias = nullptr, *q_norm = nullptr, *k_norm = nullptr;
    const float *conv = nullptr, *conv_norm = nullptr;
    DevBuffer slots;        // capacity rows of the table's type
    DevMatrix table;        // the slots as a matrix (the gather reads it)
    DevBuffer idx;          // [n_batch * rows_per_token] slot of each row read
    DevBuffer miss_slots;   // slots of the rows uploaded by this batch
    DevBuffer stage;        // those rows, as uploaded
    DevBuffer hist;         // [n_ctx, n_embd] the conv's inputs, like a KV cache
    int32_t* h_idx = nullptr;   // pinned
    int32_t* h_miss = nullptr;  // pinned
    uint8_t* h_stage = nullptr; // pinned
    cudaEvent_t ready = nullptr;
    std::unique_ptr<LookupStager> stager;  // the host half: ids, slots, missed rows
};

// Why the GPU cannot run module `mod`, or "".
std::string lookup_unsupported(const LookupModule& mod) {
    auto bad_matrix = [](const WeightView* w) {
        return !w || !w->data || !cuda::type_supported(w->type) || w->k % 32 != 0;
    };
    if (!cuda::type_supported(mod.row_type) || mod.row_values % 32 != 0)
        return std::string("its table has rows of ") + std::to_string(mod.row_values) + " values of type " +
               std::string(type_name((uint32_t)mod.row_type)) +
               " (the gather reads F32, F16, Q4_0, Q4_1, Q8_0, Q4_K, Q5_K, Q6_K rows of a multiple of 32 values)";
    if (mod.rows_per_token <= 0 || mod.n_rows == 0) return "its table is empty";
    if (mod.wkv ? bad_matrix(mod.wkv) : (bad_matrix(mod.key) || bad_matrix(mod.value)))
        return "its projections are of a type (or width) the matrix kernels do not read";
    if (!mod.q_norm || !mod.k_norm) return "it has no query or key norm";
    if (mod.conv && (mod.conv_kernel <= 0 || mod.conv_dilation <= 0 || !mod.conv_norm))
        return "its convolution has no kernel size, dilation or norm";
    return {};
}

constexpr int64_t kMaxPrefillSplit = 8;

class CudaBackend final : public LayerBackend {
public:
    CudaBackend(const Model& m, int device, int64_t first, int64_t last, bool head, int64_t n_ctx, int64_t n_batch,
                uint64_t engram_cache_bytes)
        : m_(m), dev_(device), head_(head), n_ctx_(n_ctx), n_batch_(n_batch), engram_cache_bytes_(engram_cache_bytes) {
        first_ = first;
        last_ = last;
    }

    ~CudaBackend() override {
        (void)cudaSetDevice(dev_);
        if (stream_) (void)cudaStreamSynchronize(stream_);
        if (graph_exec_) (void)cudaGraphExecDestroy(graph_exec_);
        if (graph_) (void)cudaGraphDestroy(graph_);
        if (blas_) (void)cublasDestroy(blas_);
        if (ev_up_) (void)cudaEventDestroy(ev_up_);
        if (copy_) (void)cudaStreamDestroy(copy_);
        if (stream_) (void)cudaStreamDestroy(stream_);
        if (h_x_) (void)cudaFreeHost(h_x_);
        if (h_pos_) (void)cudaFreeHost(h_pos_);
        if (h_logits_) (void)cudaFreeHost(h_logits_);
        for (DevLookup& L : lookups_) {
            if (L.ready) (void)cudaEventDestroy(L.ready);
            if (L.h_idx) (void)cudaFreeHost(L.h_idx);
            if (L.h_miss) (void)cudaFreeHost(L.h_miss);
            if (L.h_stage) (void)cudaFreeHost(L.h_stage);
        }
    }

    Status init();

    std::string device() const override { return "cuda:" + std::to_string(dev_); }

    Status forward(float* x, int64_t n_tok, int64_t pos0, ExtensionState* ext, const TensorDumpFn* dump) override;
    Status output(const float* x_last, float* logits, const TensorDumpFn* dump) override;

    DeviceMemory memory() const override {
        DeviceMemory d;
        d.device = device();
        d.weights_bytes = weights_bytes_;
        d.kv_bytes = k_cache_.bytes() + v_cache_.bytes();
        d.scratch_bytes = scratch_bytes_;
        for (const DevLookup& L : lookups_) {
            const RowSlotCache& c = L.stager->cache();
            d.engram_bytes += L.slots.bytes();
            d.engram_resident_bytes += (uint64_t)c.size() * L.mod->row_bytes;
            d.engram_hits += c.hits();
            d.engram_misses += c.misses();
            d.engram_bytes_uploaded += L.stager->staged_bytes();
        }
        return d;
    }

private:
    Error fail(const char* call, const std::string& what, cudaError_t e) const {
        return cuda::cuda_error(dev_, call, what, e);
    }
    Status check(cudaError_t e, const char* call, const std::string& what) const {
        if (e == cudaSuccess) return {};
        return fail(call, what, e);
    }
    Status alloc(DevBuffer& b, uint64_t bytes, const std::string& what) {
        return b.alloc(dev_, bytes, what);
    }

    Status upload(const void* src, uint64_t bytes, const std::string& name, const void** out);
    Status upload_vec(const float* src, int64_t n, const std::string& name, const float** out);
    Status upload_matrix(const WeightView& w, const std::string& name, DevMatrix* out);

    // y = W x (+ bias) (+ y): matvec for one token, dequant + GEMM for more.
    Status linear(const DevMatrix& W, const float* x, int64_t n_tok, float* y, const float* bias, bool accumulate,
                  int64_t il, const char* name);
    Status run_layer(int64_t il, int64_t n_tok, bool graph_shape);

    // Engram modules on the GPU (see the top of the file).
    Status init_lookups(int64_t* max_w, int64_t* max_e);
    DevLookup* lookup_at(int64_t il) {
        const int i = lookup_of_.empty() ? -1 : lookup_of_[(size_t)(il - first_)];
        return i < 0 ? nullptr : &lookups_[(size_t)i];
    }
    // Host: the batch's row ids and slots; side stream: the missed rows into
    // their slots, then L.ready. The compute stream waits for L.ready.
    Status stage_lookup(DevLookup& L, ExtensionState& ext, int64_t n_tok, int64_t pos0);
    // Compute stream: gather, projections, gate, residual (and conv).
    Status run_lookup(DevLookup& L, int64_t n_tok);
    Status forward_blocks(float* x, int64_t n_tok, int64_t pos0, ExtensionState* ext, const TensorDumpFn* dump);

    std::string tname(int64_t il, const char* t) const {
        return "blk." + std::to_string(il) + "." + t + ".weight";
    }

    const Model& m_;
    int dev_;
    bool head_;
    int64_t n_ctx_, n_batch_;

    cudaStream_t stream_ = nullptr, copy_ = nullptr;
    cudaEvent_t ev_up_ = nullptr;
    cublasHandle_t blas_ = nullptr;
    cudaGraph_t graph_ = nullptr;
    cudaGraphExec_t graph_exec_ = nullptr;
    bool graph_has_lookups_ = false;  // the graph runs the Engram modules
    const ExtensionState* filtered_state_ = nullptr;  // told which rows VRAM holds

    std::vector<DevBuffer> owned_;  // every uploaded tensor
    std::vector<DevLayer> layers_;  // [first, last)
    const float* rope_freqs_ = nullptr;
    const float* output_norm_ = nullptr;
    DevMatrix output_;
    uint64_t weights_bytes_ = 0, scratch_bytes_ = 0;

    DevBuffer k_cache_, v_cache_;
    DevBuffer d_x_, d_xn_, d_q_, d_k_, d_v_, d_attn_, d_gate_, d_up_, d_logits_, d_pos_, d_part_, d_h16_, d_w16_;
    float* h_x_ = nullptr;
    int32_t* h_pos_ = nullptr;
    float* h_logits_ = nullptr;
    int64_t dec_split_ = 1;
    int64_t pos_host_ = 0;  // pos0 of the forward in flight (prefill split sizes)
    float theta_scale_ = 1;
    std::unique_ptr<ThreadPool> ext_pool_;  // modules the GPU cannot run

    uint64_t engram_cache_bytes_ = 0;
    std::vector<DevLookup> lookups_;
    std::vector<int> lookup_of_;            // per block of the range: index into lookups_, or -1
    DevBuffer d_e_, d_ekv_, d_eout_;        // gathered rows, key|value, module output
};

Status CudaBackend::upload(const void* src, uint64_t bytes, const std::string& name, const void** out) {
    DevBuffer b;
    if (auto st = alloc(b, bytes, "uploading " + name); !st) return st;
    if (auto st = check(cudaMemcpy(b.get(), src, bytes, cudaMemcpyHostToDevice), "cudaMemcpy", "upload of " + name);
        !st)
        return st;
    weights_bytes_ += bytes;
    *out = b.get();
    owned_.push_back(std::move(b));
    return {};
}

Status CudaBackend::upload_vec(const float* src, int64_t n, const std::string& name, const float** out) {
    if (!src) {
        *out = nullptr;
        return {};
    }
    const void* p = nullptr;
    if (auto st = upload(src, (uint64_t)n * sizeof(float), name, &p); !st) return st;
    *out = static_cast<const float*>(p);
    return {};
}

Status CudaBackend::upload_matrix(const WeightView& w, const std::string& name, DevMatrix* out) {
    if (!cuda::type_supported(w.type))
        return Error{device() + ": " + name + " has type " + std::string(type_name((uint32_t)w.type)) +
                     ", which the CUDA backend does not compute (it reads F32, F16, Q4_0, Q4_1, Q8_0, Q4_K, Q5_K, "
                     "Q6_K)"};
    if (w.k % 32 != 0 || w.n <= 0 || !w.data)
        return Error{device() + ": " + name + " has " + std::to_string(w.k) +
                     " values per row, not a multiple of 32 the CUDA kernels need"};
    out->type = w.type;
    out->k = w.k;
    out->n = w.n;
    out->row_bytes = w.row_bytes;
    return upload(w.data, (uint64_t)(w.n * w.row_bytes), name, &out->data);
}

Status CudaBackend::init() {
    const HParams& hp = m_.hparams();
    const ModelWeights& w = m_.weights();
    const std::string dn = device();
    if (first_ < 0 || last_ > hp.n_layer || first_ > last_)
        return Error{dn + ": block range " + std::to_string(first_) + ".." + std::to_string(last_) +
                     " is outside the model's " + std::to_string(hp.n_layer) + " blocks"};
    if (n_ctx_ <= 0 || n_batch_ <= 0) return Error{dn + ": context and batch must be positive"};
    if (hp.head_dim % 32 != 0 || hp.head_dim > 256)
        return Error{dn + ": head size " + std::to_string(hp.head_dim) +
                     " is not supported by the CUDA attention (a multiple of 32, at most 256)"};
    if (hp.n_head_kv <= 0 || hp.n_head % hp.n_head_kv != 0 || hp.n_rot > hp.head_dim || hp.n_rot % 2)
        return Error{dn + ": unsupported head layout (heads, KV heads, rotary width)"};

    int n_dev = 0;
    if (cudaError_t e = cudaGetDeviceCount(&n_dev); e != cudaSuccess) {
        (void)cudaGetLastError();
        return Error{dn + ": no usable CUDA driver or device (" + cudaGetErrorString(e) + ")"};
    }
    if (dev_ < 0 || dev_ >= n_dev)
        return Error{dn + ": no such GPU (" + std::to_string(n_dev) + " found)"};
    if (auto st = check(cudaSetDevice(dev_), "cudaSetDevice", dn); !st) return st;
    if (auto st = check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate", "compute");
        !st)
        return st;
    if (auto st = check(cudaStreamCreateWithFlags(&copy_, cudaStreamNonBlocking), "cudaStreamCreate", "copies"); !st)
        return st;
    if (auto st = check(cudaEventCreateWithFlags(&ev_up_, cudaEventDisableTiming), "cudaEventCreate", "upload"); !st)
        return st;
    if (cublasStatus_t bs = cublasCreate(&blas_); bs != CUBLAS_STATUS_SUCCESS)
        return cuda::cublas_error(dev_, "cublasCreate", dn, bs);
    if (cublasStatus_t bs = cublasSetStream(blas_, stream_); bs != CUBLAS_STATUS_SUCCESS)
        return cuda::cublas_error(dev_, "cublasSetStream", dn, bs);

    // Weights, once, in their GGUF form.
    const int64_t D = hp.n_embd, QD = hp.q_dim(), KVD = hp.kv_dim(), HD = hp.head_dim, FF = hp.n_ff;
    int64_t max_w = 0;
    layers_.resize((size_t)(last_ - first_));
    for (int64_t il = first_; il < last_; ++il) {
        const LayerWeights& L = w.layers[il];
        DevLayer& d = layers_[(size_t)(il - first_)];
        if (auto st = upload_vec(L.attn_norm, D, tname(il, "attn_norm"), &d.attn_norm); !st) return st;
        if (auto st = upload_vec(L.ffn_norm, D, tname(il, "ffn_norm"), &d.ffn_norm); !st) return st;
        if (auto st = upload_vec(L.bq, QD, "blk." + std::to_string(il) + ".attn_q.bias", &d.bq); !st) return st;
        if (auto st = upload_vec(L.bk, KVD, "blk." + std::to_string(il) + ".attn_k.bias", &d.bk); !st) return st;
        if (auto st = upload_vec(L.bv, KVD, "blk." + std::to_string(il) + ".attn_v.bias", &d.bv); !st) return st;
        if (auto st = upload_vec(L.q_norm, HD, tname(il, "attn_q_norm"), &d.q_norm); !st) return st;
        if (auto st = upload_vec(L.k_norm, HD, tname(il, "attn_k_norm"), &d.k_norm); !st) return st;
        const std::pair<const WeightView*, std::pair<DevMatrix*, const char*>> mats[] = {
            {&L.wq, {&d.wq, "attn_q"}},     {&L.wk, {&d.wk, "attn_k"}},   {&L.wv, {&d.wv, "attn_v"}},
            {&L.wo, {&d.wo, "attn_output"}}, {&L.gate, {&d.gate, "ffn_gate"}}, {&L.up, {&d.up, "ffn_up"}},
            {&L.down, {&d.down, "ffn_down"}}};
        for (const auto& [src, dst] : mats) {
            if (auto st = upload_matrix(*src, tname(il, dst.second), dst.first); !st) return st;
            max_w = std::max(max_w, src->n * src->k);
        }
    }
    if (auto st = upload_vec(w.rope_freqs, hp.n_rot / 2, "rope_freqs.weight", &rope_freqs_); !st) return st;
    if (head_) {
        if (auto st = upload_vec(w.output_norm, D, "output_norm.weight", &output_norm_); !st) return st;
        const char* oname = hp.tied_output ? "token_embd.weight" : "output.weight";
        if (auto st = upload_matrix(w.output, oname, &output_); !st) return st;
    }

    int64_t max_e = 0;
    if (auto st = init_lookups(&max_w, &max_e); !st) return st;

    // KV cache (F16) of the range.
    const uint64_t nl = (uint64_t)(last_ - first_);
    const uint64_t kv_bytes = nl * (uint64_t)n_ctx_ * (uint64_t)KVD * 2;
    if (auto st = alloc(k_cache_, kv_bytes, "allocating the K cache"); !st) return st;
    if (auto st = alloc(v_cache_, kv_bytes, "allocating the V cache"); !st) return st;

    // Scratch for the largest batch.
    const int64_t nb = n_batch_;
    int64_t pre_split = 1, pre_chunk = 0, dec_chunk = 0;
    cuda::attention_split(n_ctx_, kMaxPrefillSplit, &pre_split, &pre_chunk);
    cuda::attention_split(n_ctx_, (n_ctx_ + 255) / 256, &dec_split_, &dec_chunk);
    const int64_t part = std::max(hp.n_head * dec_split_, nb * hp.n_head * pre_split) * (HD + 2);
    struct Want {
        DevBuffer* b;
        uint64_t bytes;
        const char* what;
    };
    const Want wants[] = {
        {&d_x_, (uint64_t)(nb * D) * 4, "x"},
        {&d_xn_, (uint64_t)(nb * std::max(D, FF)) * 4, "normed x"},
        {&d_q_, (uint64_t)(nb * QD) * 4, "q"},
        {&d_k_, (uint64_t)(nb * KVD) * 4, "k"},
        {&d_v_, (uint64_t)(nb * KVD) * 4, "v"},
        {&d_attn_, (uint64_t)(nb * QD) * 4, "attention output"},
        {&d_gate_, (uint64_t)(nb * FF) * 4, "ffn gate"},
        {&d_up_, (uint64_t)(nb * FF) * 4, "ffn up"},
        {&d_logits_, head_ ? (uint64_t)hp.n_vocab * 4 : 0, "logits"},
        {&d_pos_, 16, "position"},
        {&d_part_, (uint64_t)part * 4, "attention partials"},
        {&d_h16_, nb > 1 ? (uint64_t)(nb * std::max({D, FF, QD, max_e})) * 2 : 0, "F16 activations"},
        {&d_w16_, nb > 1 ? (uint64_t)max_w * 2 : 0, "F16 weight tile"},
        {&d_e_, (uint64_t)(nb * max_e) * 4, "Engram rows"},
        {&d_ekv_, lookups_.empty() ? 0 : (uint64_t)(nb * 2 * D) * 4, "Engram key and value"},
        {&d_eout_, lookups_.empty() ? 0 : (uint64_t)(nb * D) * 4, "Engram output"},
    };
    for (const Want& wt : wants) {
        if (auto st = alloc(*wt.b, wt.bytes, std::string("allocating scratch (") + wt.what + ")"); !st) return st;
        scratch_bytes_ += wt.bytes;
    }
    if (auto st = check(cudaMallocHost((void**)&h_x_, (size_t)(nb * D) * 4), "cudaMallocHost", "x staging"); !st)
        return st;
    if (auto st = check(cudaMallocHost((void**)&h_pos_, 16), "cudaMallocHost", "position staging"); !st) return st;
    if (head_) {
        if (auto st = check(cudaMallocHost((void**)&h_logits_, (size_t)hp.n_vocab * 4), "cudaMallocHost",
                            "logits staging");
            !st)
            return st;
    }
    theta_scale_ = std::pow(hp.rope_freq_base, -2.0f / (float)hp.n_rot);
    bool host_modules = false;
    for (int64_t il = first_; m_.extension() && il < last_; ++il)
        host_modules = host_modules || (m_.extension()->has_layer(il) && !lookup_at(il));
    if (host_modules) ext_pool_ = std::make_unique<ThreadPool>((int)std::max(1u, std::thread::hardware_concurrency()));
    EG_LOG_INFO("{}: blocks {}..{} uploaded ({} weights, {} KV, {} scratch)", dn, first_, last_, cuda::mib(weights_bytes_),
                cuda::mib(kv_bytes * 2), cuda::mib(scratch_bytes_));
    return {};
}

Status CudaBackend::init_lookups(int64_t* max_w, int64_t* max_e) {
    ModelExtension* mx = m_.extension();
    const int64_t D = m_.hparams().n_embd;
    lookup_of_.assign((size_t)(last_ - first_), -1);
    if (!mx) return {};
    const std::string dn = device();
    std::vector<const LookupModule*> mods;
    uint64_t tables = 0;
    for (int64_t il = first_; il < last_; ++il) {
        if (!mx->has_layer(il)) continue;
        const LookupModule* mod = mx->lookup_module(il);
        const std::string why = mod ? lookup_unsupported(*mod) : "the extension offers no GPU form";
        if (!why.empty()) {
            EG_LOG_WARN("{}: the Engram module of block {} runs on the CPU: {}", dn, il, why);
            continue;
        }
        mods.push_back(mod);
        tables += mod->table_bytes();
    }
    lookups_.resize(mods.size());  // no reallocation after this: pointers into it stay valid
    for (size_t i = 0; i < mods.size(); ++i) {
        const LookupModule& mod = *mods[i];
        DevLookup& L = lookups_[i];
        L.mod = &mod;
        L.il = mod.layer;
        lookup_of_[(size_t)(mod.layer - first_)] = (int)i;
        const std::string blk = "blk." + std::to_string(mod.layer);
        if (mod.wkv) {
            if (auto st = upload_matrix(*mod.wkv, blk + ".engram_wkv", &L.wkv); !st) return st;
        } else {
            if (auto st = upload_matrix(*mod.key, blk + ".engram_key", &L.key); !st) return st;
            if (auto st = upload_matrix(*mod.value, blk + ".engram_value", &L.value); !st) return st;
        }
        for (const WeightView* w : {mod.wkv, mod.key, mod.value})
            if (w) *max_w = std::max(*max_w, w->n * w->k);
        *max_e = std::max(*max_e, mod.gathered_width());
        if (auto st = upload_vec(mod.key_bias, D, blk + ".engram_key.bias", &L.key_bias); !st) return st;
        if (auto st = upload_vec(mod.value_bias, D, blk + ".engram_value.bias", &L.value_bias); !st) return st;
        if (auto st = upload_vec(mod.q_norm, D, blk + ".engram_q_norm", &L.q_norm); !st) return st;
        if (auto st = upload_vec(mod.k_norm, D, blk + ".engram_k_norm", &L.k_norm); !st) return st;
        if (mod.conv) {
            if (auto st = upload_vec(mod.conv, D * mod.conv_kernel, blk + ".engram_conv", &L.conv); !st) return st;
            if (auto st = upload_vec(mod.conv_norm, D, blk + ".engram_conv_norm", &L.conv_norm); !st) return st;
        }

        // Slots: the table's share of the budget (the stager makes it at
        // least a batch's rows).
        const uint64_t share =
            tables ? (uint64_t)((long double)engram_cache_bytes_ * mod.table_bytes() / tables) : 0;
        L.stager = std::make_unique<LookupStager>(
            mod, (uint32_t)std::min<uint64_t>({mod.n_rows, share / mod.row_bytes, (uint64_t)INT32_MAX}), n_batch_);
        const uint64_t cap = L.stager->cache().capacity();
        const uint64_t per_batch = L.stager->max_misses();
        const uint64_t ids = L.stager->max_ids();
        if (auto st = alloc(L.slots, cap * mod.row_bytes, "allocating the Engram row cache of " + blk); !st) return st;
        if (auto st = alloc(L.idx, ids * 4, "allocating Engram row slots"); !st) return st;
        if (auto st = alloc(L.miss_slots, per_batch * 4, "allocating Engram row slots"); !st) return st;
        if (auto st = alloc(L.stage, per_batch * mod.row_bytes, "allocating Engram row staging"); !st) return st;
        if (mod.conv)
            if (auto st = alloc(L.hist, (uint64_t)(n_ctx_ * D) * 4, "allocating the Engram conv history of " + blk);
                !st)
                return st;
        scratch_bytes_ += L.idx.bytes() + L.miss_slots.bytes() + L.stage.bytes() + L.hist.bytes();
        if (L.hist.get())
            if (auto st = check(cudaMemsetAsync(L.hist.get(), 0, L.hist.bytes(), stream_), "cudaMemsetAsync",
                                "Engram conv history");
                !st)
                return st;
        L.table.type = mod.row_type;
        L.table.k = mod.row_values;
        L.table.n = (int64_t)cap;
        L.table.row_bytes = (int64_t)mod.row_bytes;
        L.table.data = L.slots.get();
        if (auto st = check(cudaMallocHost((void**)&L.h_idx, ids * 4), "cudaMallocHost", "Engram row slots"); !st)
            return st;
        if (auto st = check(cudaMallocHost((void**)&L.h_miss, per_batch * 4), "cudaMallocHost", "Engram row slots");
            !st)
            return st;
        if (auto st = check(cudaMallocHost((void**)&L.h_stage, per_batch * mod.row_bytes), "cudaMallocHost",
                            "Engram row staging");
            !st)
            return st;
        if (auto st = check(cudaEventCreateWithFlags(&L.ready, cudaEventDisableTiming), "cudaEventCreate",
                            "Engram rows");
            !st)
            return st;
        EG_LOG_INFO("{}: Engram module of {} on the GPU, {} of {} rows cached in VRAM ({})", dn, blk, cap, mod.n_rows,
                    cuda::mib(L.slots.bytes()));
    }
    return {};
}

Status CudaBackend::stage_lookup(DevLookup& L, ExtensionState& ext, int64_t n_tok, int64_t pos0) {
    const LookupModule& mod = *L.mod;
    const size_t n = (size_t)(n_tok * mod.rows_per_token);
    const std::string blk = "Engram rows of blk." + std::to_string(L.il);
    auto staged = L.stager->stage(*m_.extension(), ext, n_tok, pos0, L.h_idx, L.h_miss, L.h_stage);
    if (!staged) return staged.error();
    // The slots now name rows not yet written: any failure until they are
    // must forget them.
    auto fail = [&](Status st) {
        L.stager->forget();
        return st;
    };
    const size_t m = staged.value();
    if (auto st = check(cudaMemcpyAsync(L.idx.get(), L.h_idx, n * 4, cudaMemcpyHostToDevice, copy_),
                        "cudaMemcpyAsync", blk + " (slots)");
        !st)
        return fail(std::move(st));
    if (m > 0) {
        const size_t bytes = m * mod.row_bytes;
        if (auto st = check(cudaMemcpyAsync(L.stage.get(), L.h_stage, bytes, cudaMemcpyHostToDevice, copy_),
                            "cudaMemcpyAsync", blk);
            !st)
            return fail(std::move(st));
        if (auto st = check(cudaMemcpyAsync(L.miss_slots.get(), L.h_miss, m * 4, cudaMemcpyHostToDevice, copy_),
                            "cudaMemcpyAsync", blk + " (their slots)");
            !st)
            return fail(std::move(st));
        if (auto st = check(cuda::scatter_rows(L.stage.get(), L.miss_slots.as<int32_t>(), (int64_t)m,
                                               (int64_t)mod.row_bytes, L.slots.get(), copy_),
                            "scatter_rows", blk);
            !st)
            return fail(std::move(st));
    }
    if (auto st = check(cudaEventRecord(L.ready, copy_), "cudaEventRecord", blk); !st) return fail(std::move(st));
    return {};
}

Status CudaBackend::run_lookup(DevLookup& L, int64_t n_tok) {
    const LookupModule& mod = *L.mod;
    const int64_t D = m_.hparams().n_embd, E = mod.gathered_width();
    const std::string blk = "blk." + std::to_string(L.il) + " Engram";
    const int32_t* pos = d_pos_.as<int32_t>();
    float* e = d_e_.as<float>();
    if (auto st = check(cuda::get_rows(L.table, L.idx.as<int32_t>(), n_tok * mod.rows_per_token, e, stream_),
                        "get_rows", blk + " rows");
        !st)
        return st;
    if (n_tok > 1)
        if (auto st = check(cuda::f32_to_f16(e, d_h16_.get(), n_tok * E, stream_), "f32_to_f16", blk + " rows"); !st)
            return st;
    cuda::GateArgs g;
    float* kv = d_ekv_.as<float>();
    if (mod.wkv) {
        if (auto st = linear(L.wkv, e, n_tok, kv, nullptr, false, L.il, "engram_wkv"); !st) return st;
        g.key = kv;
        g.value = kv + D;
        g.kv_stride = 2 * D;
    } else {
        if (auto st = linear(L.key, e, n_tok, kv, L.key_bias, false, L.il, "engram_key"); !st) return st;
        if (auto st = linear(L.value, e, n_tok, kv + n_batch_ * D, L.value_bias, false, L.il, "engram_value"); !st)
            return st;
        g.key = kv;
        g.value = kv + n_batch_ * D;
        g.kv_stride = D;
    }
    g.x = d_x_.as<float>();
    g.q_norm = L.q_norm;
    g.k_norm = L.k_norm;
    g.out = d_eout_.as<float>();
    g.hist = L.conv ? L.hist.as<float>() : nullptr;
    g.conv_norm = L.conv_norm;
    g.n_tok = n_tok;
    g.n = D;
    g.eps = mod.eps;
    if (auto st = check(cuda::lookup_gate(g, pos, stream_), "lookup_gate", blk + " gate"); !st) return st;
    return check(cuda::lookup_residual(d_x_.as<float>(), g.out, g.hist, L.conv, mod.conv_kernel, mod.conv_dilation,
                                       n_tok, D, pos, stream_),
                 "lookup_residual", blk + " output");
}

Status CudaBackend::linear(const DevMatrix& W, const float* x, int64_t n_tok, float* y, const float* bias,
                           bool accumulate, int64_t il, const char* name) {
    if (n_tok == 1)
        return check(cuda::matvec(W, x, bias, y, accumulate, stream_), "matvec", tname(il, name));
    // x was converted to F16 into d_h16_ by the caller (same rows, same k).
    if (auto st = check(cuda::dequant_f16(W, d_w16_.get(), stream_), "dequantize", tname(il, name)); !st) return st;
    const float alpha = 1.0f, beta = accumulate ? 1.0f : 0.0f;
    // Column-major view: W16 [n, k] row-major is k x n with ld k; X16 is
    // k x n_tok; Y [n_tok, n] row-major is n x n_tok: Y = W16^T * X16.
    const cublasStatus_t bs =
        cublasGemmEx(blas_, CUBLAS_OP_T, CUBLAS_OP_N, (int)W.n, (int)n_tok, (int)W.k, &alpha, d_w16_.get(), CUDA_R_16F,
                     (int)W.k, d_h16_.get(), CUDA_R_16F, (int)W.k, &beta, y, CUDA_R_32F, (int)W.n, CUBLAS_COMPUTE_32F,
                     CUBLAS_GEMM_DEFAULT);
    if (bs != CUBLAS_STATUS_SUCCESS) return cuda::cublas_error(dev_, "cublasGemmEx", tname(il, name), bs);
    if (bias) return check(cuda::add_bias(y, bias, n_tok, W.n, stream_), "add_bias", tname(il, name));
    return {};
}

Status CudaBackend::run_layer(int64_t il, int64_t n_tok, bool graph_shape) {
    const HParams& hp = m_.hparams();
    const DevLayer& L = layers_[(size_t)(il - first_)];
    const int64_t D = hp.n_embd, QD = hp.q_dim(), KVD = hp.kv_dim(), FF = hp.n_ff;
    const int64_t kl = il - first_;
    const std::string blk = "blk." + std::to_string(il);
    float* x = d_x_.as<float>();
    float* xn = d_xn_.as<float>();
    const int32_t* pos = d_pos_.as<int32_t>();
    const bool gemm = n_tok > 1;

    if (auto st = check(cuda::rms_norm(x, L.attn_norm, xn, n_tok, D, hp.rms_eps, stream_), "rms_norm",
                        tname(il, "attn_norm"));
        !st)
        return st;
    if (gemm) {
        if (auto st = check(cuda::f32_to_f16(xn, d_h16_.get(), n_tok * D, stream_), "f32_to_f16", blk + " attn input");
            !st)
            return st;
    }
    if (auto st = linear(L.wq, xn, n_tok, d_q_.as<float>(), L.bq, false, il, "attn_q"); !st) return st;
    if (auto st = linear(L.wk, xn, n_tok, d_k_.as<float>(), L.bk, false, il, "attn_k"); !st) return st;
    if (auto st = linear(L.wv, xn, n_tok, d_v_.as<float>(), L.bv, false, il, "attn_v"); !st) return st;

    cuda::RopeArgs ra;
    ra.n_tok = n_tok;
    ra.head_dim = hp.head_dim;
    ra.n_rot = hp.n_rot;
    ra.theta_scale = theta_scale_;
    ra.freq_scale = hp.rope_freq_scale;
    ra.freq_factors = rope_freqs_;
    ra.neox = hp.rope_type == RopeType::NeoX;
    ra.eps = hp.rms_eps;
    ra.n_heads = hp.n_head;
    ra.norm_w = L.q_norm;
    if (auto st = check(cuda::norm_rope(d_q_.as<float>(), ra, pos, stream_), "norm_rope", blk + " q"); !st) return st;
    ra.n_heads = hp.n_head_kv;
    ra.norm_w = L.k_norm;
    if (auto st = check(cuda::norm_rope(d_k_.as<float>(), ra, pos, stream_), "norm_rope", blk + " k"); !st) return st;

    uint16_t* kc = k_cache_.as<uint16_t>() + kl * n_ctx_ * KVD;
    uint16_t* vc = v_cache_.as<uint16_t>() + kl * n_ctx_ * KVD;
    if (auto st = check(cuda::store_kv(d_k_.as<float>(), d_v_.as<float>(), kc, vc, n_tok, KVD, pos, stream_),
                        "store_kv", blk + " KV cache");
        !st)
        return st;

    cuda::AttnArgs aa;
    aa.q = d_q_.as<float>();
    aa.k = kc;
    aa.v = vc;
    aa.out = d_attn_.as<float>();
    aa.partial = d_part_.as<float>();
    aa.n_tok = n_tok;
    aa.n_head = hp.n_head;
    aa.n_head_kv = hp.n_head_kv;
    aa.head_dim = hp.head_dim;
    if (graph_shape || n_tok == 1) {
        // Fixed grid (every split of the whole context): valid for any position.
        aa.n_split = dec_split_;
        aa.chunk = 256;
    } else {
        cuda::attention_split(pos_host_ + n_tok, kMaxPrefillSplit, &aa.n_split, &aa.chunk);
    }
    if (auto st = check(cuda::attention(aa, pos, stream_), "attention", blk); !st) return st;

    if (gemm) {
        if (auto st = check(cuda::f32_to_f16(d_attn_.as<float>(), d_h16_.get(), n_tok * QD, stream_), "f32_to_f16",
                            blk + " attention output");
            !st)
            return st;
    }
    if (auto st = linear(L.wo, d_attn_.as<float>(), n_tok, x, nullptr, true, il, "attn_output"); !st) return st;

    if (auto st = check(cuda::rms_norm(x, L.ffn_norm, xn, n_tok, D, hp.rms_eps, stream_), "rms_norm",
                        tname(il, "ffn_norm"));
        !st)
        return st;
    if (gemm) {
        if (auto st = check(cuda::f32_to_f16(xn, d_h16_.get(), n_tok * D, stream_), "f32_to_f16", blk + " ffn input");
            !st)
            return st;
    }
    if (auto st = linear(L.gate, xn, n_tok, d_gate_.as<float>(), nullptr, false, il, "ffn_gate"); !st) return st;
    if (auto st = linear(L.up, xn, n_tok, d_up_.as<float>(), nullptr, false, il, "ffn_up"); !st) return st;
    if (auto st = check(cuda::silu_mul(d_gate_.as<float>(), d_up_.as<float>(), xn, n_tok * FF, stream_), "silu_mul",
                        blk + " ffn");
        !st)
        return st;
    if (gemm) {
        if (auto st = check(cuda::f32_to_f16(xn, d_h16_.get(), n_tok * FF, stream_), "f32_to_f16", blk + " ffn act");
            !st)
            return st;
    }
    return linear(L.down, xn, n_tok, x, nullptr, true, il, "ffn_down");
}

Status CudaBackend::forward(float* x, int64_t n_tok, int64_t pos0, ExtensionState* ext, const TensorDumpFn* dump) {
    Status st = forward_blocks(x, n_tok, pos0, ext, dump);
    if (!st && !lookups_.empty()) {
        // Rows may have been given slots they never reached: forget them all,
        // and let copies still in flight finish before their pinned buffers
        // are written again.
        (void)cudaStreamSynchronize(copy_);
        for (DevLookup& L : lookups_) L.stager->forget();
    }
    return st;
}

Status CudaBackend::forward_blocks(float* x, int64_t n_tok, int64_t pos0, ExtensionState* ext,
                                   const TensorDumpFn* dump) {
    const HParams& hp = m_.hparams();
    const int64_t D = hp.n_embd;
    const std::string dn = device();
    if (n_tok <= 0) return {};
    if (n_tok > n_batch_)
        return Error{dn + ": batch of " + std::to_string(n_tok) + " tokens exceeds the backend's " +
                     std::to_string(n_batch_)};
    if (pos0 < 0 || pos0 + n_tok > n_ctx_)
        return Error{dn + ": positions " + std::to_string(pos0) + ".." + std::to_string(pos0 + n_tok) +
                     " exceed the context of " + std::to_string(n_ctx_)};
    if (auto st = check(cudaSetDevice(dev_), "cudaSetDevice", dn); !st) return st;
    pos_host_ = pos0;

    // Upload x and the position on the copy stream; the compute stream waits.
    std::memcpy(h_x_, x, (size_t)(n_tok * D) * 4);
    h_pos_[0] = (int32_t)pos0;
    if (auto st = check(cudaMemcpyAsync(d_x_.get(), h_x_, (size_t)(n_tok * D) * 4, cudaMemcpyHostToDevice, copy_),
                        "cudaMemcpyAsync", "upload of x");
        !st)
        return st;
    if (auto st = check(cudaMemcpyAsync(d_pos_.get(), h_pos_, 4, cudaMemcpyHostToDevice, copy_), "cudaMemcpyAsync",
                        "upload of the position");
        !st)
        return st;
    if (auto st = check(cudaEventRecord(ev_up_, copy_), "cudaEventRecord", "upload"); !st) return st;
    if (auto st = check(cudaStreamWaitEvent(stream_, ev_up_, 0), "cudaStreamWaitEvent", "upload"); !st) return st;

    ModelExtension* mx = ext ? m_.extension() : nullptr;
    bool host_modules = false;  // a module in the range the GPU cannot run
    for (int64_t il = first_; mx && il < last_; ++il)
        host_modules = host_modules || (mx->has_layer(il) && !lookup_at(il));
    const bool dumping = dump && *dump;
    const bool lookups = mx && !lookups_.empty();
    if (lookups && ext != filtered_state_) {
        // Rows in VRAM need not be fetched from DRAM or the SSD ahead.
        for (DevLookup& L : lookups_) L.stager->attach(*mx, *ext);
        filtered_state_ = ext;
    }

    if (n_tok == 1 && !host_modules && !dumping) {
        // Every module's rows on their way before the graph, which reads them.
        for (size_t i = 0; lookups && i < lookups_.size(); ++i) {
            DevLookup& L = lookups_[i];
            if (auto st = stage_lookup(L, *ext, n_tok, pos0); !st) return st;
            if (auto st = check(cudaStreamWaitEvent(stream_, L.ready, 0), "cudaStreamWaitEvent", "Engram rows"); !st)
                return st;
        }
        if (lookups != graph_has_lookups_ && graph_exec_) {
            // Captured with (or without) the modules: capture again.
            (void)cudaGraphExecDestroy(graph_exec_);
            (void)cudaGraphDestroy(graph_);
            graph_exec_ = nullptr;
            graph_ = nullptr;
        }
        if (!graph_exec_) {
            if (auto st = check(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal),
                                "cudaStreamBeginCapture", "decode graph");
                !st)
                return st;
            Status run;
            for (int64_t il = first_; il < last_ && run.ok(); ++il) {
                if (DevLookup* L = lookups ? lookup_at(il) : nullptr) run = run_lookup(*L, 1);
                if (run.ok()) run = run_layer(il, 1, true);
            }
            const cudaError_t ee = cudaStreamEndCapture(stream_, &graph_);
            if (!run) {
                if (graph_) (void)cudaGraphDestroy(graph_);
                graph_ = nullptr;
                return run;
            }
            if (auto st = check(ee, "cudaStreamEndCapture", "decode graph"); !st) return st;
            if (auto st = check(cudaGraphInstantiate(&graph_exec_, graph_, 0), "cudaGraphInstantiate", "decode graph");
                !st) {
                (void)cudaGraphDestroy(graph_);
                graph_ = nullptr;
                graph_exec_ = nullptr;
                return st;
            }
            graph_has_lookups_ = lookups;
        }
        if (auto st = check(cudaGraphLaunch(graph_exec_, stream_), "cudaGraphLaunch", "decode graph"); !st) return st;
    } else {
        for (int64_t il = first_; il < last_; ++il) {
            DevLookup* L = mx ? lookup_at(il) : nullptr;
            if (L) {
                // Host work (and maybe the SSD) while the GPU runs the blocks before.
                if (auto st = stage_lookup(*L, *ext, n_tok, pos0); !st) return st;
                if (auto st = check(cudaStreamWaitEvent(stream_, L->ready, 0), "cudaStreamWaitEvent", "Engram rows");
                    !st)
                    return st;
                if (auto st = run_lookup(*L, n_tok); !st) return st;
                if (dumping) {
                    if (auto st = check(cudaMemcpyAsync(h_x_, d_x_.get(), (size_t)(n_tok * D) * 4,
                                                        cudaMemcpyDeviceToHost, stream_),
                                        "cudaMemcpyAsync", "download of engram_l_out");
                        !st)
                        return st;
                    if (auto st = check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize", "engram_l_out"); !st)
                        return st;
                    (*dump)("engram_l_out", il, h_x_, n_tok, D);
                }
            } else if (mx && mx->has_layer(il)) {
                // The module on the CPU: x down, apply, x up.
                const size_t bytes = (size_t)(n_tok * D) * 4;
                if (auto st = check(cudaMemcpyAsync(h_x_, d_x_.get(), bytes, cudaMemcpyDeviceToHost, stream_),
                                    "cudaMemcpyAsync", "download of x before blk." + std::to_string(il));
                    !st)
                    return st;
                if (auto st = check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize", "extension hand-off");
                    !st)
                    return st;
                if (auto st = mx->apply(*ext, il, h_x_, n_tok, pos0, *ext_pool_, dump); !st) return st;
                if (dumping) (*dump)("engram_l_out", il, h_x_, n_tok, D);
                if (auto st = check(cudaMemcpyAsync(d_x_.get(), h_x_, bytes, cudaMemcpyHostToDevice, stream_),
                                    "cudaMemcpyAsync", "upload of x after blk." + std::to_string(il));
                    !st)
                    return st;
            }
            if (auto st = run_layer(il, n_tok, false); !st) return st;
            if (dumping) {
                if (auto st = check(cudaMemcpyAsync(h_x_, d_x_.get(), (size_t)(n_tok * D) * 4, cudaMemcpyDeviceToHost,
                                                    stream_),
                                    "cudaMemcpyAsync", "download of l_out");
                    !st)
                    return st;
                if (auto st = check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize", "l_out"); !st) return st;
                (*dump)("l_out", il, h_x_, n_tok, D);
            }
        }
    }
    if (auto st = check(cudaMemcpyAsync(h_x_, d_x_.get(), (size_t)(n_tok * D) * 4, cudaMemcpyDeviceToHost, stream_),
                        "cudaMemcpyAsync", "download of x");
        !st)
        return st;
    if (auto st = check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize", "blocks " + std::to_string(first_) +
                                                                                   ".." + std::to_string(last_));
        !st)
        return st;
    std::memcpy(x, h_x_, (size_t)(n_tok * D) * 4);
    return {};
}

Status CudaBackend::output(const float* x_last, float* logits, const TensorDumpFn* dump) {
    const HParams& hp = m_.hparams();
    const int64_t D = hp.n_embd;
    if (!head_)
        return Error{device() + " backend of blocks " + std::to_string(first_) + ".." + std::to_string(last_) +
                     " does not hold the output head"};
    if (auto st = check(cudaSetDevice(dev_), "cudaSetDevice", device()); !st) return st;
    std::memcpy(h_x_, x_last, (size_t)D * 4);
    if (auto st = check(cudaMemcpyAsync(d_x_.get(), h_x_, (size_t)D * 4, cudaMemcpyHostToDevice, stream_),
                        "cudaMemcpyAsync", "upload of the last x");
        !st)
        return st;
    float* xn = d_xn_.as<float>();
    if (auto st = check(cuda::rms_norm(d_x_.as<float>(), output_norm_, xn, 1, D, hp.rms_eps, stream_), "rms_norm",
                        "output_norm.weight");
        !st)
        return st;
    if (auto st = check(cuda::matvec(output_, xn, nullptr, d_logits_.as<float>(), false, stream_), "matvec",
                        hp.tied_output ? "token_embd.weight" : "output.weight");
        !st)
        return st;
    if (auto st = check(cudaMemcpyAsync(h_logits_, d_logits_.get(), (size_t)hp.n_vocab * 4, cudaMemcpyDeviceToHost,
                                        stream_),
                        "cudaMemcpyAsync", "download of the logits");
        !st)
        return st;
    if (dump && *dump) {
        if (auto st = check(cudaMemcpyAsync(h_x_, xn, (size_t)D * 4, cudaMemcpyDeviceToHost, stream_),
                            "cudaMemcpyAsync", "download of result_norm");
            !st)
            return st;
    }
    if (auto st = check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize", "output head"); !st) return st;
    if (dump && *dump) (*dump)("result_norm", -1, h_x_, 1, D);
    std::memcpy(logits, h_logits_, (size_t)hp.n_vocab * 4);
    return {};
}

}  // namespace

Result<std::unique_ptr<LayerBackend>> make_cuda_backend(const Model& m, int device, int64_t first, int64_t last,
                                                        bool output_head, int64_t n_ctx, int64_t n_batch,
                                                        uint64_t engram_cache_bytes) {
    auto b = std::make_unique<CudaBackend>(m, device, first, last, output_head, n_ctx, n_batch, engram_cache_bytes);
    if (auto st = b->init(); !st) {
        EG_LOG_WARN("{}", st.message());
        return st.error();  // the destructor frees what init() got
    }
    return std::unique_ptr<LayerBackend>(std::move(b));
}

}  // namespace eg
