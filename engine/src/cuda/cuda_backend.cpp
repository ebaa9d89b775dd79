// The CUDA backend (host part): weight upload, the per-layer launch
// sequence, the decode CUDA graph and the hand-offs with the host. Probing
// is in cuda_probe.cpp, the Engram modules in cuda_lookup.cpp.
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
// Engram modules run on the GPU (cuda_lookup.cpp). A module the GPU cannot
// run (a row or weight type the kernels do not read) runs on the CPU: x is
// downloaded, apply() adds to it on the host, x is uploaded again, and the
// range runs without the decode graph.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <thread>
#include <vector>

#include "core/log.h"
#include "cuda/cuda_backend_impl.h"
#include "cuda/cuda_plugin.h"
#include "model/decoder.h"

namespace eg {

namespace cuda {

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
                     ", which the CUDA backend does not compute (it reads " + cuda::supported_type_names() + ")"};
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
    if (hp.yarn_ext_factor > 0)
        return Error{dn + ": the model uses YaRN rope scaling, which the CUDA kernels do not compute yet"};

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

    // Weights, once, in their GGUF form: those the blocks' graphs name.
    const int64_t D = hp.n_embd, KVD = hp.kv_dim();
    int64_t max_w = 0;
    for (int64_t il = first_; il < last_; ++il)
        if (auto st = load_block(il, &max_w); !st) return st;
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
    const int64_t part = std::max(hp.n_head * dec_split_, nb * hp.n_head * pre_split) * (hp.head_dim + 2);
    struct Want {
        DevBuffer* b;
        uint64_t bytes;
        const char* what;
    };
    // The graphs' slots, each as wide as its widest use (Norm holds the
    // output head's normed x too).
    std::array<int64_t, kSlotCount> width{};
    width[(int)Slot::Norm] = D;
    for (int64_t il = first_; il < last_; ++il)
        for (int i = 0; i < kSlotCount; ++i) width[i] = std::max(width[i], m_.block(il).width[i]);
    int64_t widest = D;  // F16 activations: the widest matmul input (a slot) or Engram row set
    for (int i = 1; i < kSlotCount; ++i) {
        if (auto st = alloc(d_slot_[i], (uint64_t)(nb * width[i]) * 4,
                            std::string("allocating scratch (") + slot_name((Slot)i) + ")");
            !st)
            return st;
        scratch_bytes_ += d_slot_[i].bytes();
        widest = std::max(widest, width[i]);
    }
    const Want wants[] = {
        {&d_x_, (uint64_t)(nb * D) * 4, "x"},
        {&d_logits_, head_ ? (uint64_t)hp.n_vocab * 4 : 0, "logits"},
        {&d_pos_, 16, "position"},
        {&d_part_, (uint64_t)part * 4, "attention partials"},
        {&d_h16_, nb > 1 ? (uint64_t)(nb * std::max(widest, max_e)) * 2 : 0, "F16 activations"},
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
    EG_LOG_INFO("{}: blocks {}..{} uploaded ({} weights, {} KV, {} scratch)", dn, first_, last_,
                cuda::mib(weights_bytes_), cuda::mib(kv_bytes * 2), cuda::mib(scratch_bytes_));
    return {};
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

Status CudaBackend::load_block(int64_t il, int64_t* max_w) {
    const LayerWeights& L = m_.weights().layers[il];
    const BlockGraph& g = m_.block(il);
    const std::string blk = "blk." + std::to_string(il);
    auto vec = [&](const float* host, int64_t n, const char* name) -> Status {
        if (!host || vecs_.count(host)) return {};
        const float* d = nullptr;
        if (auto st = upload_vec(host, n, blk + " " + name, &d); !st) return st;
        vecs_[host] = d;
        return {};
    };
    for (size_t i = 0; i < g.nodes.size(); ++i) {
        const Node& n = g.nodes[i];
        switch (n.op) {
        case Op::RmsNorm:
            if (n.vec)
                if (auto st = vec(L.*n.vec, n.group, n.name); !st) return st;
            break;
        case Op::Matmul: {
            const WeightView& w = L.*n.w;
            if (!mats_.count(w.data)) {
                DevMatrix d;
                if (auto st = upload_matrix(w, blk + " " + n.name, &d); !st) return st;
                mats_[w.data] = d;
                *max_w = std::max(*max_w, w.n * w.k);
            }
            if (n.vec)
                if (auto st = vec(L.*n.vec, n.width, n.name); !st) return st;
            break;
        }
        case Op::Add:
            // Runs as the accumulation of the product before it.
            if (i == 0 || g.nodes[i - 1].op != Op::Matmul || g.nodes[i - 1].out != n.in)
                return Error{device() + ": " + blk + " " + n.name +
                             ": the CUDA backend adds only a matrix product to a slot"};
            break;
        case Op::Attention:
            if (n.window > 0 || n.sinks || n.softcap > 0)
                return Error{device() + ": " + blk + " attends through a sliding window, with sinks or soft-capped, "
                                                     "which the CUDA backend does not run yet: keep the block on the CPU"};
            break;
        case Op::Rope:
            if (n.rope_base > 0 || n.rope_scale > 0 || m_.hparams().rope_attn_factor != 1.0f ||
                m_.hparams().yarn_ext_factor > 0 || m_.weights().rope_freqs_long)
                return Error{device() + ": " + blk + " rotates with its own RoPE base, YaRN or an attention factor, "
                                                     "which the CUDA backend does not run yet: keep the block on the CPU"};
            break;
        case Op::StoreKv:
        case Op::SwiGlu:
            break;
        case Op::GeGlu:
        case Op::Scale:
            return Error{device() + ": " + blk + " " + n.name + " (" + op_name(n.op) +
                         ") does not run on the CUDA backend yet: keep the block on the CPU"};
        case Op::MoeRoute:
        case Op::MoeExperts:
            return Error{device() + ": " + blk + " is a mixture-of-experts block (" + n.name +
                         "), which the CUDA backend does not run yet: keep the block on the CPU"};
        }
    }
    return {};
}

Status CudaBackend::rope(Slot s, int64_t heads, const float* norm_w, int64_t il) {
    const HParams& hp = m_.hparams();
    cuda::RopeArgs ra;
    ra.n_tok = n_tok_;
    ra.head_dim = hp.head_dim;
    ra.n_rot = hp.n_rot;
    ra.theta_scale = theta_scale_;
    ra.freq_scale = hp.rope_freq_scale;
    ra.freq_factors = rope_freqs_;
    ra.neox = hp.rope_type == RopeType::NeoX;
    ra.eps = hp.rms_eps;
    ra.n_heads = heads;
    ra.norm_w = norm_w;
    return check(cuda::norm_rope(slot(s), ra, d_pos_.as<int32_t>(), stream_), "norm_rope",
                 "blk." + std::to_string(il) + " " + slot_name(s));
}

Status CudaBackend::run_layer(int64_t il, int64_t n_tok, bool graph_shape) {
    const HParams& hp = m_.hparams();
    const LayerWeights& L = m_.weights().layers[il];
    const BlockGraph& g = m_.block(il);
    const int64_t KVD = hp.kv_dim();
    const int64_t kl = il - first_;
    const std::string blk = "blk." + std::to_string(il);
    const int32_t* pos = d_pos_.as<int32_t>();
    const bool gemm = n_tok > 1;
    n_tok_ = n_tok;
    uint16_t* kc = k_cache_.as<uint16_t>() + kl * n_ctx_ * KVD;
    uint16_t* vc = v_cache_.as<uint16_t>() + kl * n_ctx_ * KVD;
    int h16 = -1;  // the slot d_h16_ holds in F16 (prefill), or none

    for (size_t i = 0; i < g.nodes.size(); ++i) {
        const Node& n = g.nodes[i];
        const Node* next = i + 1 < g.nodes.size() ? &g.nodes[i + 1] : nullptr;
        const std::string what = blk + " " + n.name;
        float* out = slot(n.out);
        const float* in = slot(n.in);
        Status st;
        switch (n.op) {
        case Op::RmsNorm: {
            const float* w = dev_vec(n.vec ? L.*n.vec : nullptr);
            // A per-head norm of the heads RoPE rotates next: one kernel.
            if (next && next->op == Op::Rope && n.in == n.out && next->out == n.out && n.group == hp.head_dim &&
                next->width == n.width) {
                st = rope(n.out, next->heads, w, il);
                ++i;
            } else {
                st = check(cuda::rms_norm(in, w, out, n_tok * (n.width / n.group), n.group, hp.rms_eps, stream_),
                           "rms_norm", what);
            }
            break;
        }
        case Op::Matmul: {
            const DevMatrix& W = dev_matrix(L.*n.w);
            const float* bias = dev_vec(n.vec ? L.*n.vec : nullptr);
            // A product followed by the add of its result accumulates in place.
            const bool acc = next && next->op == Op::Add && next->in == n.out;
            float* y = acc ? slot(next->out) : out;
            if (gemm && h16 != (int)n.in) {
                st = check(cuda::f32_to_f16(in, d_h16_.get(), n_tok * W.k, stream_), "f32_to_f16", what);
                h16 = (int)n.in;
            }
            if (st) st = linear(W, in, n_tok, y, bias, acc, il, n.name);
            if (acc) ++i;
            break;
        }
        case Op::Rope:
            st = rope(n.out, n.heads, nullptr, il);
            break;
        case Op::StoreKv:
            st = check(cuda::store_kv(in, slot(n.in2), kc, vc, n_tok, KVD, pos, stream_), "store_kv", what);
            break;
        case Op::Attention: {
            cuda::AttnArgs aa;
            aa.q = in;
            aa.k = kc;
            aa.v = vc;
            aa.out = out;
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
            st = check(cuda::attention(aa, pos, stream_), "attention", what);
            break;
        }
        case Op::SwiGlu:
            st = check(cuda::silu_mul(in, slot(n.in2), out, n_tok * n.width, stream_), "silu_mul", what);
            break;
        case Op::Add:
        case Op::GeGlu:
        case Op::Scale:
        case Op::MoeRoute:
        case Op::MoeExperts:
            st = Error{device() + ": " + what + " (" + op_name(n.op) + ") does not run here"};  // load_block refuses these
            break;
        }
        if (!st) return st;
        if (n.op != Op::Matmul) h16 = -1;
    }
    return {};
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
    float* xn = slot(Slot::Norm);
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
    finish_logits(hp, logits);  // granite's logit scale, gemma2's soft-capping
    return {};
}

Result<std::unique_ptr<LayerBackend>> make_backend(const Model& m, const GpuRange& r) {
    auto b = std::make_unique<CudaBackend>(m, r.device, r.first, r.last, r.output_head, r.n_ctx, r.n_batch,
                                           r.engram_cache_bytes);
    if (auto st = b->init(); !st) {
        EG_LOG_WARN("{}", st.message());
        return st.error();  // the destructor frees what init() got
    }
    return std::unique_ptr<LayerBackend>(std::move(b));
}

}  // namespace cuda

}  // namespace eg
