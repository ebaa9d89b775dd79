// The CPU backend: the shared decoder (model/decoder.h) over a range of
// blocks, with the F16 KV cache of those blocks and its own scratch. Its
// matrices are the model's packed copies where this CPU has packed kernels
// (quant/packed.h), shared with any other CPU backend of the model.
#include <algorithm>

#include "backend/backend.h"
#include "core/thread_pool.h"
#include "model/decoder.h"
#include "model/kv_cache.h"
#include "model/model.h"
#include "quant/packed.h"

namespace eg {

namespace {

class CpuBackend final : public LayerBackend {
public:
    CpuBackend(const Model& m, int64_t first, int64_t last, bool output_head, int64_t n_ctx, int64_t n_batch,
               ThreadPool& pool)
        : m_(m), w_(m.weights()), kv_(last - first, n_ctx, m.hparams().kv_dim()), pool_(pool), head_(output_head) {
        first_ = first;
        last_ = last;
        s_.allocate(m.hparams(), n_batch, n_ctx, pool.size());
        for (int64_t il = first; il < last; ++il) {
            LayerWeights& L = w_.layers[il];
            for (WeightView* v : {&L.wq, &L.wk, &L.wv, &L.wo, &L.gate, &L.up, &L.down}) use_packed(*v);
        }
        if (head_) use_packed(w_.output);
    }

    std::string device() const override { return "cpu"; }

    Status forward(float* x, int64_t n_tok, int64_t pos0, ExtensionState* ext, const TensorDumpFn* dump) override {
        return decoder_layers(m_, w_, kv_, first_, s_, x, n_tok, pos0, first_, last_, pool_, dump, ext);
    }

    Status output(const float* x_last, float* logits, const TensorDumpFn* dump) override {
        if (!head_) return Error{"cpu backend of blocks " + std::to_string(first_) + ".." + std::to_string(last_) +
                                 " does not hold the output head"};
        decoder_output(m_, w_, s_, x_last, pool_, dump);
        std::copy(s_.logits.begin(), s_.logits.end(), logits);
        return {};
    }

    DeviceMemory memory() const override {
        DeviceMemory d;
        d.device = "cpu";
        const ModelWeights& w = w_;
        const HParams& hp = m_.hparams();
        // The F32 vectors a block reads, as the CUDA backend uploads them.
        const auto floats = [](const float* p, int64_t n) { return p ? (uint64_t)n * sizeof(float) : 0; };
        for (int64_t il = first_; il < last_; ++il) {
            const LayerWeights& L = w.layers[il];
            for (const WeightView* v : {&L.wq, &L.wk, &L.wv, &L.wo, &L.gate, &L.up, &L.down}) {
                d.weights_bytes += bytes(*v);
                d.weights_file_bytes += file_bytes(*v);
            }
            const uint64_t vecs = floats(L.attn_norm, hp.n_embd) + floats(L.ffn_norm, hp.n_embd) +
                                  floats(L.bq, hp.q_dim()) + floats(L.bk, hp.kv_dim()) + floats(L.bv, hp.kv_dim()) +
                                  floats(L.q_norm, hp.head_dim) + floats(L.k_norm, hp.head_dim);
            d.weights_bytes += vecs;
            d.weights_file_bytes += vecs;
        }
        if (head_) {
            d.weights_bytes += bytes(w.output) + floats(w.output_norm, hp.n_embd);
            // A packed tied head leaves the token table to the lookups, mapped.
            d.weights_file_bytes += (w.output.packed && hp.tied_output ? 0 : file_bytes(w.output)) +
                                    floats(w.output_norm, hp.n_embd);
        }
        d.kv_bytes = kv_.bytes();
        d.scratch_bytes = s_.bytes();
        return d;
    }

private:
    // Points v at the model's packed copy of its matrix, if it has one.
    void use_packed(WeightView& v) {
        if (auto p = m_.packed(v, &pool_)) {
            v.packed = p.get();
            packed_.push_back(std::move(p));
        }
    }
    // What this backend reads of a matrix: its packed copy, else the file's bytes.
    static uint64_t file_bytes(const WeightView& v) { return (uint64_t)(v.n * v.row_bytes); }
    static uint64_t bytes(const WeightView& v) { return v.packed ? v.packed->bytes() : file_bytes(v); }

    const Model& m_;
    ModelWeights w_;  // the model's views, with packed matrices for this backend's blocks
    std::vector<std::shared_ptr<const PackedMatrix>> packed_;
    KvCache kv_;
    ForwardScratch s_;
    ThreadPool& pool_;
    bool head_;
};

}  // namespace

std::unique_ptr<LayerBackend> make_cpu_backend(const Model& m, int64_t first, int64_t last, bool output_head,
                                               int64_t n_ctx, int64_t n_batch, ThreadPool& pool) {
    return std::make_unique<CpuBackend>(m, first, last, output_head, n_ctx, n_batch, pool);
}

}  // namespace eg
