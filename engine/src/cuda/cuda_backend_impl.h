// The CUDA backend's class, shared by its two halves: cuda_backend.cpp
// (weights, the blocks, the decode graph, the output head) and
// cuda_lookup.cpp (Engram modules on the GPU). Internal to src/cuda.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include "backend/backend.h"
#include "core/thread_pool.h"
#include "cuda/cuda_kernels.h"
#include "cuda/cuda_util.h"
#include "model/model.h"
#include "runtime/lookup_stager.h"

namespace eg::cuda {

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
        // Uploaded as the file stores them; a tied head is a copy of the
        // token table, which the host still reads (the embedding lookup).
        d.weights_file_bytes =
            weights_bytes_ - (head_ && m_.hparams().tied_output ? (uint64_t)(output_.n * output_.row_bytes) : 0);
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
    // Block il's graph (model/graph.h) on the compute stream.
    Status run_layer(int64_t il, int64_t n_tok, bool graph_shape);
    // Whether this backend runs every operation of block il's graph; uploads
    // the weights its operations name.
    Status load_block(int64_t il, int64_t* max_w);
    // RoPE (with the per-head norm w before it, or none) on slot s.
    Status rope(Slot s, int64_t heads, const float* norm_w, int64_t il);
    float* slot(Slot s) { return s == Slot::X ? d_x_.as<float>() : d_slot_[(int)s].as<float>(); }
    const DevMatrix& dev_matrix(const WeightView& w) const { return mats_.at(w.data); }
    const float* dev_vec(const float* host) const { return host ? vecs_.at(host) : nullptr; }

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
    // The uploads of the blocks' weights, by their address in the mapping.
    std::unordered_map<const uint8_t*, DevMatrix> mats_;
    std::unordered_map<const float*, const float*> vecs_;
    const float* rope_freqs_ = nullptr;
    const float* output_norm_ = nullptr;
    DevMatrix output_;
    uint64_t weights_bytes_ = 0, scratch_bytes_ = 0;

    DevBuffer k_cache_, v_cache_;
    DevBuffer d_x_, d_logits_, d_pos_, d_part_, d_h16_, d_w16_;
    std::array<DevBuffer, kSlotCount> d_slot_;  // [n_batch, width] per slot of the graphs (X is d_x_)
    float* h_x_ = nullptr;
    int32_t* h_pos_ = nullptr;
    float* h_logits_ = nullptr;
    int64_t dec_split_ = 1;
    int64_t pos_host_ = 0;  // pos0 of the forward in flight (prefill split sizes)
    int64_t n_tok_ = 0;     // tokens of the block in flight
    float theta_scale_ = 1;
    std::unique_ptr<ThreadPool> ext_pool_;  // modules the GPU cannot run

    uint64_t engram_cache_bytes_ = 0;
    std::vector<DevLookup> lookups_;
    std::vector<int> lookup_of_;            // per block of the range: index into lookups_, or -1
    DevBuffer d_e_, d_ekv_, d_eout_;        // gathered rows, key|value, module output
};

}  // namespace eg::cuda
