// One decoder block as a list of named operations. Each architecture builds
// its block in its own file (model/arch/*.cpp) from the operations below;
// every backend runs the same list (the CPU in model/decoder.cpp, CUDA in
// cuda/cuda_backend.cpp), so a block is written once.
//
// An operation reads and writes activation slots, each [n_tok, width] floats
// (the width is per slot, the largest any operation of the block writes),
// and names the weights it reads as members of LayerWeights: a backend
// resolves them against its own copy of the weights (the CPU's packed
// matrices, the GPU's uploads), so one graph serves every backend.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "model/hparams.h"
#include "quant/weight_view.h"

namespace eg {

struct LayerWeights;

// Activation slots of a block. X is the residual stream, in and out.
enum class Slot : uint8_t { X, Norm, Q, K, V, Attn, Tmp, Gate, Up, Act, Router };
constexpr int kSlotCount = 11;
const char* slot_name(Slot s);

enum class Op : uint8_t {
    RmsNorm,     // out[t, g*n ..+n) = in[t, g*n ..+n) / rms * w[0..n)   over groups of n values
    Matmul,      // out[t, 0..W.n) = W in[t, 0..W.k) (+ bias)
    Add,         // out[t, :] += in[t, :]
    Rope,        // in place: RoPE of `heads` heads of head_dim at positions pos0 + t
    StoreKv,     // in (K) and in2 (V) [n_tok, kv_dim] into the block's cache at pos0..
    Attention,   // out = causal softmax(q k^T / sqrt(head_dim) [, sink]) v over the block's cache, GQA;
                 // window > 0: the query at p sees (p - window, p] only
    SwiGlu,      // out = silu(in) * in2
    GeGlu,       // out = gelu(in) * in2, GELU's tanh form (gemma)
    Scale,       // in place: out[t, 0..width) *= scale (granite's residual and attention multipliers)
    MoeRoute,    // router logits in [n_tok, n_expert] -> each token's experts and weights
    MoeExperts,  // out = sum over the token's experts j of w_j * down_j(act(gate_j in, up_j in))
};
const char* op_name(Op op);

using MatrixRef = WeightView LayerWeights::*;
using VectorRef = const float* LayerWeights::*;

// How a MoE block picks its experts from the router's logits.
struct MoeRouting {
    int64_t n_expert = 0;
    int64_t n_used = 0;        // experts per token
    bool renormalize = false;  // divide the chosen probabilities by their sum (qwen3moe)
    // true: the top n_used logits, weighted by the softmax over those alone
    // (gpt-oss); false: the softmax over all experts, then its top n_used.
    bool softmax_chosen = false;
};

// An expert's gated activation between its gate/up and down projections.
struct ExpertActivation {
    // false: silu(g) * u. true: gpt-oss's clamped form,
    // min(g, limit) * sigmoid(alpha * min(g, limit)) * (clamp(u, -limit, limit) + 1).
    bool clamped = false;
    float alpha = 1.702f;
    float limit = 7.0f;
};

struct Node {
    Op op = Op::Add;
    const char* name = "";     // what a tensor dump calls its output
    Slot in = Slot::X, in2 = Slot::X, out = Slot::X;
    int64_t width = 0;         // values per token written to out (RmsNorm, Add, SwiGlu, MoeExperts)
    MatrixRef w = nullptr;     // Matmul
    VectorRef vec = nullptr;   // RmsNorm: weight [group]; Matmul: bias [W.n]
    int64_t group = 0;         // RmsNorm: values per normalized group
    int64_t heads = 0;         // Rope: heads in the slot
    int64_t window = 0;        // Attention: sliding window (0: the whole context)
    VectorRef sinks = nullptr; // Attention: a sink logit per head [n_head], or none
    float softcap = 0;         // Attention: scores become softcap * tanh(score / softcap) (gemma2); 0: none
    float scale = 1;           // Scale
    // Rope: this block's base and linear scale where they are not the
    // model's (gemma3's sliding-window blocks); 0: the model's.
    float rope_base = 0, rope_scale = 0;
    MoeRouting routing;        // MoeRoute
    ExpertActivation act;      // MoeExperts
};

struct BlockGraph {
    int64_t layer = 0;
    std::vector<Node> nodes;
    std::array<int64_t, kSlotCount> width{};  // per slot, values per token

    // One line per operation: "attn_norm  rms_norm  X -> Norm [64]".
    std::string describe() const;
};

// What an architecture's build function writes with. The widths of the
// slots follow from the operations (a matrix's rows, a norm's width).
class BlockBuilder {
public:
    BlockBuilder(const HParams& hp, const LayerWeights& L, int64_t il, BlockGraph& g);

    const HParams& hp;
    const LayerWeights& L;
    const int64_t il;

    // out = rms_norm(in) * w over groups of `group` values (0: the whole width)
    void rms_norm(const char* name, Slot in, Slot out, int64_t width, VectorRef w, int64_t group = 0);
    // out = W in (+ bias)
    void matmul(const char* name, MatrixRef w, Slot in, Slot out, VectorRef bias = nullptr);
    // out += in
    void add(const char* name, Slot in, Slot out);
    // RoPE in place on the heads of s (base and linear scale: 0, the model's)
    void rope(const char* name, Slot s, int64_t heads, float base = 0, float freq_scale = 0);
    void store_kv(Slot k, Slot v);
    void attention(const char* name, Slot q, Slot out, int64_t window = 0, VectorRef sinks = nullptr,
                   float softcap = 0);
    // out = silu(gate) * up
    void swiglu(const char* name, Slot gate, Slot up, Slot out);
    // out = gelu(gate) * up
    void geglu(const char* name, Slot gate, Slot up, Slot out);
    // s[t, 0..width of s) *= c
    void scale(const char* name, Slot s, float c);
    void moe_route(const char* name, Slot logits, const MoeRouting& r);
    void moe_experts(const char* name, Slot in, Slot out, const ExpertActivation& act = {});

private:
    void push(Node n, int64_t out_width);
    BlockGraph& g_;
};

}  // namespace eg
