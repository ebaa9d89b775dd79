// The forward pass shared by the llama, qwen2 and qwen3 families: embeddings,
// N x (RMSNorm, attention with RoPE/GQA, RMSNorm, SwiGLU FFN), norm, logits.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "cpu/matmul.h"
#include "model/model.h"
#include "runtime/kv_cache.h"

namespace eg {

class ThreadPool;

// TensorDumpFn (model/extension.h) is called with every named intermediate
// ("attn_norm", "q", "attn_out", "ffn_out", "l_out", ...) when set: lets a
// debug run dump any layer and compare it with a reference. data is
// [n_tok, n] row-major.

// Buffers of one forward pass, allocated once for the largest batch.
struct ForwardScratch {
    int64_t n_batch = 0;
    std::vector<float> x, xn, q, k, v, attn, tmp, gate, up;  // [n_batch, *]
    std::vector<float> scores;                               // [n_threads, n_ctx]
    std::vector<float> logits;                               // [n_logits, n_vocab]
    MatmulScratch mm;

    void allocate(const HParams& hp, int64_t n_batch, int64_t n_ctx, int n_threads);
    uint64_t bytes() const;
};

// Runs tokens[0..n_tok) at positions pos0.. through the model, writing their
// K/V into the cache; the last token's logits are left in scratch.logits.
// ext: the sequence's state of the model's extension (Engram), when it has
// one; its modules run before attention in their blocks. Fails only when an
// extension does (e.g. a table row cannot be read from the file).
Status decoder_forward(const Model& model, KvCache& kv, ForwardScratch& s, const int32_t* tokens, int64_t n_tok,
                       int64_t pos0, ThreadPool& pool, const TensorDumpFn* dump, ExtensionState* ext = nullptr);

}  // namespace eg
