// Devices that run decoder blocks. A session splits the blocks of a model
// into contiguous ranges, one backend each (CPU, CUDA, or two CPU instances
// in tests); the activations x [n_tok, n_embd] live in host memory between
// ranges, so they cross from one device to the next once per step.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/result.h"
#include "model/extension.h"

namespace eg {

class Model;
class ThreadPool;
class ExpertTier;

// Bytes a backend holds on its device, by category.
struct DeviceMemory {
    std::string device;          // "cpu", "cuda:0"
    uint64_t weights_bytes = 0;  // CPU: packed copies and mapped from the GGUF; CUDA: uploaded
    // The file's bytes of the tensors it runs whose mapping it no longer
    // needs (uploaded or packed): what of the model's mapped weights it
    // accounts for, so that the rest is counted as host memory once.
    uint64_t weights_file_bytes = 0;
    uint64_t kv_bytes = 0;
    uint64_t scratch_bytes = 0;
    // Rows of an extension's tables (Engram) cached on the device: the slots
    // allocated, the rows they hold now, and per distinct row of a batch
    // whether it was held (hit) or uploaded (miss, engram_bytes_uploaded).
    uint64_t engram_bytes = 0;
    uint64_t engram_resident_bytes = 0;
    uint64_t engram_hits = 0, engram_misses = 0, engram_bytes_uploaded = 0;
    // MoE experts this backend runs: their bytes held here (the DRAM cache
    // of an expert tier, else the experts themselves, also in weights_bytes).
    uint64_t expert_bytes = 0;
};

class LayerBackend {
public:
    virtual ~LayerBackend() = default;

    virtual std::string device() const = 0;
    int64_t first_layer() const { return first_; }
    int64_t last_layer() const { return last_; }  // exclusive

    // Runs blocks [first, last) for the n_tok tokens at positions pos0..:
    // x [n_tok, n_embd] in host memory, updated in place. The model's
    // extension (Engram) runs inside its blocks when ext is given.
    virtual Status forward(float* x, int64_t n_tok, int64_t pos0, ExtensionState* ext,
                           const TensorDumpFn* dump) = 0;

    // The output head, on the backend that holds it: final RMSNorm and
    // logits of one token's x (host) into logits [n_vocab] (host).
    virtual Status output(const float* x_last, float* logits, const TensorDumpFn* dump) = 0;

    virtual DeviceMemory memory() const = 0;

protected:
    int64_t first_ = 0, last_ = 0;
};

// The CPU backend: blocks [first, last) with their own F16 KV cache; the
// output head too when `output_head`. Threads come from the session's pool.
// experts: the MoE experts in the memory tiers (model/expert_tier.h, owned
// by the session), or null: the experts stay mapped and are packed.
std::unique_ptr<LayerBackend> make_cpu_backend(const Model& m, int64_t first, int64_t last, bool output_head,
                                               int64_t n_ctx, int64_t n_batch, ThreadPool& pool,
                                               ExpertTier* experts = nullptr);

}  // namespace eg
