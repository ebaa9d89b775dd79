// `qwen3moe`: Qwen3-30B-A3B, Qwen3-235B-A22B. Qwen3's attention (NeoX RoPE,
// per-head QK-norm, key_length heads) and a mixture of experts in every
// block: softmax router over all experts, the top expert_used_count taken and
// their probabilities renormalized to sum to 1. The experts' width is
// expert_feed_forward_length (feed_forward_length is the dense width).
//   x += attention(x);  x += moe_ffn(x)
#include "model/arch/blocks.h"

namespace eg {

namespace {

constexpr blocks::MoeSpec kMoe{.renormalize = true};
constexpr blocks::AttentionSpec kAttention{.qk_norm = blocks::QkNorm::PerHead};

Status hparams(const GgufFile& f, HParams& hp) {
    hp.rope_type = RopeType::NeoX;
    hp.has_qk_norm = true;
    return blocks::read_moe_hparams(f, hp);
}

Status load(TensorLoader& t, const HParams& hp, int64_t, LayerWeights& L) {
    if (auto s = blocks::load_attention(t, hp, L, kAttention); !s) return s;
    return blocks::load_moe_ffn(t, hp, L, kMoe);
}

void build(BlockBuilder& g) {
    blocks::attention(g, kAttention);
    blocks::moe_ffn(g, kMoe);
}

}  // namespace

const ArchSpec& arch_qwen3moe() {
    static const ArchSpec spec{"qwen3moe", "Qwen3-30B-A3B, Qwen3-235B-A22B", hparams, load, build};
    return spec;
}

}  // namespace eg
