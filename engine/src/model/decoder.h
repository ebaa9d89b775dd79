// The forward pass shared by the llama, qwen2 and qwen3 families: embeddings,
// N x (RMSNorm, attention with RoPE/GQA, RMSNorm, SwiGLU FFN), norm, logits.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "cpu/matmul.h"
#include "model/kv_cache.h"
#include "model/model.h"

namespace eg {

class ThreadPool;

// TensorDumpFn (model/extension.h) is called with every named intermediate
// ("attn_norm", "q", "attn_out", "ffn_out", "l_out", ...) when set: lets a
// debug run dump any layer and compare it with a reference. data is
// [n_tok, n] row-major.

// Buffers of one backend's forward pass, allocated once for the largest
// batch (the activations x themselves belong to the session).
struct ForwardScratch {
    int64_t n_batch = 0;
    std::vector<float> xn, q, k, v, attn, tmp, gate, up;     // [n_batch, *]
    std::vector<float> scores;                               // [n_threads, n_ctx]
    std::vector<float> logits;                               // [n_logits, n_vocab]
    MatmulScratch mm;

    void allocate(const HParams& hp, int64_t n_batch, int64_t n_ctx, int n_threads);
    uint64_t bytes() const;
};

// The three parts of a forward pass, so that blocks can run on several
// backends (backend/backend.h):
//  - embed: token rows into x [n_tok, n_embd] (the extension may serve them);
//  - layers: blocks [l0, l1) on x in place, K/V of block il written to
//    kv layer (il - kv_first); the extension's modules run in their blocks;
//  - output: final norm and logits of one token's x into s.logits.
Status decoder_embed(const Model& model, const int32_t* tokens, int64_t n_tok, float* x, ExtensionState* ext);
// layers/output read their matrices from w (the model's weights, or the
// backend's copy of them whose views carry packed matrices).
Status decoder_layers(const Model& model, const ModelWeights& w, KvCache& kv, int64_t kv_first, ForwardScratch& s, float* x, int64_t n_tok,
                      int64_t pos0, int64_t l0, int64_t l1, ThreadPool& pool, const TensorDumpFn* dump,
                      ExtensionState* ext);
void decoder_output(const Model& model, const ModelWeights& w, ForwardScratch& s, const float* x_last, ThreadPool& pool,
                    const TensorDumpFn* dump);

}  // namespace eg
