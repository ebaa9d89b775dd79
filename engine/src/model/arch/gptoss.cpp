// `gpt-oss`: OpenAI gpt-oss-20b / 120b. Attention with biases on Q, K, V and
// the output, a learned sink logit per head, and a sliding window of
// ARCH.attention.sliding_window positions in the even blocks (the odd ones
// see the whole context; the pattern is fixed, not a key); NeoX RoPE with
// YaRN. The FFN is a mixture of experts with biases everywhere: the router
// takes the top expert_used_count logits and weighs them by the softmax over
// those alone; each expert's activation is the clamped SwiGLU
// min(g, 7) * sigmoid(1.702 * min(g, 7)) * (clamp(u, -7, 7) + 1). Experts
// come in MXFP4. The pre-FFN norm is named post_attention_norm.
//   x += attention(x) (window in even blocks, sinks);  x += moe_ffn(x)
#include "model/arch/blocks.h"
#include "gguf/gguf.h"

namespace eg {

namespace {

constexpr blocks::Standard kBlock{
    .attention = {.qkv_bias = true, .output_bias = true, .sinks = true},
    .moe = true,
    .experts = {.norm = "post_attention_norm",
                .softmax_chosen = true,
                .biases = true,
                .act = ExpertActivation{.clamped = true, .alpha = 1.702f, .limit = 7.0f}}};

Status hparams(const GgufFile& f, HParams& hp) {
    if (auto s = blocks::read_sliding_window(f, hp); !s) return s;
    return blocks::standard_hparams(kBlock, f, hp);
}

Status load(TensorLoader& t, const HParams& hp, int64_t, LayerWeights& L) {
    return blocks::standard_load(kBlock, t, hp, L);
}

// The window in the even blocks only.
void build(BlockBuilder& g) { blocks::standard_build(kBlock, g, g.il % 2 == 0 ? g.hp.n_swa : 0); }

}  // namespace

const ArchSpec& arch_gptoss() {
    static const ArchSpec spec{"gpt-oss", "gpt-oss-20b, gpt-oss-120b", hparams, load, build};
    return spec;
}

}  // namespace eg
