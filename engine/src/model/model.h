// A loaded model: the mapped GGUF, its hyper-parameters, weights (views into
// the mapping, never copied), tokenizer and chat template.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "cpu/matmul.h"
#include "gguf/gguf.h"
#include "model/arch.h"
#include "model/extension.h"
#include "model/hparams.h"
#include "tokenizer/tokenizer.h"

namespace eg {

// n_expert matrices of one shape stacked in one tensor (ffn_{gate,up,down}_exps,
// GGUF ne [k, rows, n_expert]): expert e is rows [e*rows, (e+1)*rows) of all.
struct ExpertMatrices {
    WeightView all;       // k values per row, n_expert * rows rows
    int64_t rows = 0;     // rows per expert
    int64_t n_expert = 0;
    // Per expert, the CPU's packed copy (quant/packed.h) or null; empty: none.
    std::vector<const PackedMatrix*> packed;
    const float* bias = nullptr;  // [n_expert, rows] (gpt-oss), or none


    WeightView expert(int64_t e) const {
        WeightView v = all;
        v.n = rows;
        v.data = all.data + e * rows * all.row_bytes;
        v.packed = packed.empty() ? nullptr : packed[(size_t)e];
        return v;
    }
    uint64_t expert_bytes() const { return (uint64_t)(rows * all.row_bytes); }
};

// A block's weights; which of them a block has depends on its architecture
// (model/arch/*.cpp), whose graph names the ones it reads.
struct LayerWeights {
    const float* attn_norm = nullptr;  // [n_embd]
    WeightView wq, wk, wv;             // [n_embd, q_dim], [n_embd, kv_dim] x2
    const float* bq = nullptr;         // [q_dim]   qwen2
    const float* bk = nullptr;         // [kv_dim]  qwen2
    const float* bv = nullptr;         // [kv_dim]  qwen2
    const float* q_norm = nullptr;     // [head_dim] qwen3; [q_dim] olmoe
    const float* k_norm = nullptr;     // [head_dim] qwen3; [kv_dim] olmoe
    WeightView wo;                     // [q_dim, n_embd]
    const float* bo = nullptr;         // [n_embd]  gpt-oss
    const float* attn_sinks = nullptr; // [n_head]  gpt-oss
    const float* attn_post_norm = nullptr; // [n_embd] gemma2/3: on the attention's output, before the residual add
    const float* ffn_norm = nullptr;   // [n_embd]
    const float* ffn_post_norm = nullptr;  // [n_embd] gemma2/3: on the FFN's output, before the residual add
    WeightView gate, up;               // [n_embd, n_ff]        dense FFN
    WeightView down;                   // [n_ff, n_embd]
    WeightView router;                 // [n_embd, n_expert]    MoE FFN
    const float* router_bias = nullptr;// [n_expert] gpt-oss
    ExpertMatrices gate_exps, up_exps; // n_expert x [n_embd, n_ff_exp]
    ExpertMatrices down_exps;          // n_expert x [n_ff_exp, n_embd]
};

struct ModelWeights {
    WeightView tok_embd;               // [n_embd, n_vocab]
    const float* output_norm = nullptr;// [n_embd]
    WeightView output;                 // [n_embd, n_vocab] (= tok_embd when tied)
    const float* rope_freqs = nullptr; // [n_rot / 2] llama3 scaling factors (phi3: LongRoPE's short ones), optional
    const float* rope_freqs_long = nullptr; // [n_rot / 2] phi3: for sessions longer than hp.n_ctx_orig, optional
    std::vector<LayerWeights> layers;
};

// Bytes a model needs, by category, for `info` and stats.
struct MemoryEstimate {
    uint64_t weights_bytes = 0;
    uint64_t kv_bytes = 0;        // at the given context
    uint64_t scratch_bytes = 0;   // at the given batch
};

class Model {
public:
    // Loads the base model; `extension` (e.g. eg::engram::make_loader) then
    // builds the layer additions the file declares. A file that declares
    // Engram layers is refused without a loader rather than run without them.
    static Result<std::unique_ptr<Model>> load(const std::string& path, const ExtensionLoader& extension = {});
    ~Model();

    const GgufFile& file() const { return *file_; }
    const HParams& hparams() const { return hp_; }
    const ArchSpec& arch() const { return *arch_; }
    const ModelWeights& weights() const { return w_; }
    // Block il's operations (model/graph.h), built at load.
    const BlockGraph& block(int64_t il) const { return graphs_[(size_t)il]; }
    const Tokenizer& tokenizer() const { return *tok_; }
    // The model's own tokenizer.chat_template, if it carries one.
    const std::optional<std::string>& chat_template() const { return chat_template_; }

    // The layer additions (Engram), or nullptr. Not const: they keep stats.
    ModelExtension* extension() const { return ext_.get(); }

    // The packed copy of one of this model's matrices for the CPU kernels
    // (quant/packed.h), made on first use and shared by every CPU backend
    // running it, freed with the last; null when the matrix has no packed
    // form on this CPU. The file's pages of a packed matrix are released
    // from memory (they stay in the file and the page cache).
    std::shared_ptr<const PackedMatrix> packed(const WeightView& w, ThreadPool* pool) const;

    uint64_t parameter_count() const { return n_params_; }
    uint64_t weight_bytes() const { return weight_bytes_; }
    MemoryEstimate memory_estimate(int64_t n_ctx, int64_t n_batch) const;

private:
    Model() = default;
    Status load_hparams();
    Status load_weights();

    std::unique_ptr<GgufFile> file_;
    std::unique_ptr<Tokenizer> tok_;
    const ArchSpec* arch_ = nullptr;
    HParams hp_;
    ModelWeights w_;
    std::vector<BlockGraph> graphs_;
    std::optional<std::string> chat_template_;
    std::unique_ptr<ModelExtension> ext_;
    std::vector<std::vector<float>> owned_;  // small vectors converted to F32 at load
    uint64_t n_params_ = 0;
    uint64_t weight_bytes_ = 0;
    mutable std::mutex packed_mu_;
    mutable std::map<const uint8_t*, std::weak_ptr<const PackedMatrix>> packed_;
};

}  // namespace eg
