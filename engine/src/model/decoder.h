// The forward pass on the CPU: embeddings, each block's graph (model/graph.h,
// built by its architecture) run operation by operation, norm, logits.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <vector>

#include "cpu/matmul.h"
#include "model/expert_tier.h"
#include "model/graph.h"
#include "model/kv_cache.h"
#include "model/model.h"

namespace eg {

class ThreadPool;

// TensorDumpFn (model/extension.h) is called with every named intermediate
// ("attn_norm", "q", "attn_out", "ffn_out", "l_out", ...) when set: lets a
// debug run dump any layer and compare it with a reference. data is
// [n_tok, n] row-major.

// A MoE block's work: each token's experts and weights [n_batch, n_used],
// the rows gathered per expert and their outputs per (token, choice).
struct MoeScratch {
    int64_t n_used = 0;
    std::vector<int32_t> ids;
    std::vector<float> weights;
    std::vector<float> in, gate, up, act, out;  // [n_batch, n_embd or n_ff_exp]
    std::vector<float> y;                       // [n_batch * n_used, n_embd]
    // The experts a batch chose and where their weights are (reused, so that
    // a decode step allocates nothing).
    std::vector<int32_t> chosen;
    std::vector<char> used, ready;
    std::vector<ExpertWeights> experts;
    std::vector<int64_t> picks;

    void allocate(int64_t n_batch, int64_t n_embd, int64_t n_ff_exp, int64_t n_used);
    uint64_t bytes() const;
};

// Each token's r.n_used experts from the router's logits [n_tok, n_expert]:
// the top n_used by logit (the lower index first on a tie), weighed by the
// softmax over all experts (renormalized over the chosen when asked) or over
// the chosen alone (r.softmax_chosen).
void moe_route(const MoeRouting& r, const float* logits, int64_t n_tok, int32_t* ids, float* weights);

// out[t] = sum_j w[t, j] * down_e(act(gate_e in[t], up_e in[t])), e = ids[t, j]
// (s.ids and s.weights, from moe_route), with the experts' biases where they
// have them. Each chosen expert runs once over the rows of the tokens that
// chose it; the sum over j runs in the order of the choices, so a token gets
// the same result alone or in a batch.
// With a tier, the experts come from it (block il's, model/expert_tier.h);
// else from the matrices (mapped or packed).
Status moe_experts(const ExpertMatrices& gate, const ExpertMatrices& up, const ExpertMatrices& down,
                   const ExpertActivation& act, MoeScratch& s, const float* in, int64_t n_tok, float* out,
                   ThreadPool& pool, MatmulScratch& mm, ExpertTier* tier = nullptr, int64_t il = 0);

// Buffers of one backend's forward pass, allocated once for the largest
// batch (the activations x themselves belong to the session).
struct ForwardScratch {
    int64_t n_batch = 0;
    std::array<std::vector<float>, kSlotCount> slot;  // [n_batch, the slot's width] (X unused: x is the caller's)
    std::vector<float> scores;                        // [n_threads, n_ctx]
    std::vector<float> logits;                        // [n_vocab]
    MoeScratch moe;
    MatmulScratch mm;

    // For blocks [first, last) of m (their graphs give the widths).
    void allocate(const Model& m, int64_t first, int64_t last, int64_t n_batch, int64_t n_ctx, int n_threads);
    uint64_t bytes() const;
};

// The three parts of a forward pass, so that blocks can run on several
// backends (backend/backend.h):
//  - embed: token rows into x [n_tok, n_embd] (the extension may serve them);
//  - layers: blocks [l0, l1) on x in place, each block's graph in order, K/V
//    of block il written to kv layer (il - kv_first); the extension's
//    modules run at the start of their blocks;
//  - output: final norm and logits of one token's x into s.logits.
Status decoder_embed(const Model& model, const int32_t* tokens, int64_t n_tok, float* x, ExtensionState* ext);
// layers/output read their matrices from w (the model's weights, or the
// backend's copy of them whose views carry packed matrices).
// experts: the MoE blocks' experts in the memory tiers, or null (the
// matrices of w).
Status decoder_layers(const Model& model, const ModelWeights& w, KvCache& kv, int64_t kv_first, ForwardScratch& s, float* x, int64_t n_tok,
                      int64_t pos0, int64_t l0, int64_t l1, ThreadPool& pool, const TensorDumpFn* dump,
                      ExtensionState* ext, ExpertTier* experts = nullptr);
void decoder_output(const Model& model, const ModelWeights& w, ForwardScratch& s, const float* x_last, ThreadPool& pool,
                    const TensorDumpFn* dump);
// What an architecture does to the output head's product (granite's logit
// scale, gemma2's final soft-capping), in place on logits [n_vocab]: every
// backend's output head ends with it (decoder_output does).
void finish_logits(const HParams& hp, float* logits);

}  // namespace eg
