// The CPU backend: the decoder (model/decoder.h) runs the blocks' graphs over
// a range of blocks, with the F16 KV cache of those blocks and its own scratch. Its
// matrices are the model's packed copies where this CPU has packed kernels
// (quant/packed.h), shared with any other CPU backend of the model.
#include <algorithm>

#include "backend/backend.h"
#include "core/thread_pool.h"
#include "model/decoder.h"
#include "model/expert_tier.h"
#include "model/kv_cache.h"
#include "model/model.h"
#include "quant/packed.h"

namespace eg {

namespace {

class CpuBackend final : public LayerBackend {
public:
    CpuBackend(const Model& m, int64_t first, int64_t last, bool output_head, int64_t n_ctx, int64_t n_batch,
               ThreadPool& pool, ExpertTier* experts)
        : m_(m), w_(m.weights()), kv_(last - first, n_ctx, m.hparams().kv_dim()), pool_(pool), head_(output_head),
          experts_(experts) {
        first_ = first;
        last_ = last;
        s_.allocate(m, first, last, n_batch, n_ctx, pool.size());
        for (int64_t il = first; il < last; ++il) {
            LayerWeights& L = w_.layers[il];
            for (const Node& n : m.block(il).nodes) {
                if (n.op == Op::Matmul) use_packed(L.*n.w);
                if (n.op == Op::MoeExperts && !experts_)
                    for (ExpertMatrices* x : {&L.gate_exps, &L.up_exps, &L.down_exps}) {
                        x->packed.assign((size_t)x->n_expert, nullptr);
                        for (int64_t e = 0; e < x->n_expert; ++e) {
                            WeightView v = x->expert(e);
                            use_packed(v);
                            x->packed[(size_t)e] = v.packed;
                        }
                    }
            }
        }
        if (head_) use_packed(w_.output);
    }

    std::string device() const override { return "cpu"; }

    Status forward(float* x, int64_t n_tok, int64_t pos0, ExtensionState* ext, const TensorDumpFn* dump) override {
        return decoder_layers(m_, w_, kv_, first_, s_, x, n_tok, pos0, first_, last_, pool_, dump, ext, experts_);
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
            auto add = [&](const WeightView& v) {
                d.weights_bytes += bytes(v);
                d.weights_file_bytes += file_bytes(v);
            };
            for (const Node& n : m_.block(il).nodes) {
                uint64_t vec = 0;
                if (n.op == Op::Matmul) {
                    add(L.*n.w);
                    if (n.vec) vec = floats(L.*n.vec, n.width);
                } else if (n.op == Op::RmsNorm && n.vec) {
                    vec = floats(L.*n.vec, n.group);
                } else if (n.op == Op::MoeExperts) {
                    // In a tier, the file's experts are read, not mapped; the
                    // cache is counted once below.
                    for (const ExpertMatrices* x : {&L.gate_exps, &L.up_exps, &L.down_exps})
                        for (int64_t e = 0; e < x->n_expert; ++e) {
                            const WeightView v = x->expert(e);
                            if (experts_) {
                                d.weights_file_bytes += file_bytes(v);
                            } else {
                                add(v);
                                d.expert_bytes += bytes(v);
                            }
                        }
                }
                d.weights_bytes += vec;
                d.weights_file_bytes += vec;
            }
        }
        if (head_) {
            d.weights_bytes += bytes(w.output) + floats(w.output_norm, hp.n_embd);
            // A packed tied head leaves the token table to the lookups, mapped.
            d.weights_file_bytes += (w.output.packed && hp.tied_output ? 0 : file_bytes(w.output)) +
                                    floats(w.output_norm, hp.n_embd);
        }
        if (experts_) {
            const ExpertTierStats es = experts_->stats();
            d.expert_bytes = es.capacity * es.expert_bytes;
            d.weights_bytes += d.expert_bytes;
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
    ExpertTier* experts_;
};

}  // namespace

std::unique_ptr<LayerBackend> make_cpu_backend(const Model& m, int64_t first, int64_t last, bool output_head,
                                               int64_t n_ctx, int64_t n_batch, ThreadPool& pool, ExpertTier* experts) {
    return std::make_unique<CpuBackend>(m, first, last, output_head, n_ctx, n_batch, pool, experts);
}

}  // namespace eg
