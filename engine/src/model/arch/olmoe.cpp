// `olmoe`: OLMoE-1B-7B. NeoX RoPE, an RMSNorm over the whole Q and K
// projections (weights [q_dim] and [kv_dim], not per head), and a mixture of
// experts in every block: softmax router, the top expert_used_count taken
// with their probabilities as they are (no renormalization). llama.cpp sizes
// the experts from feed_forward_length; moe_shape.h checks it against the
// tensors.
//   x += attention(x) with whole-projection QK-norm;  x += moe_ffn(x)
#include "model/arch/blocks.h"

namespace eg {

namespace {

constexpr blocks::MoeSpec kMoe{.renormalize = false};
constexpr blocks::AttentionSpec kAttention{.qk_norm = blocks::QkNorm::Whole};

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

const ArchSpec& arch_olmoe() {
    static const ArchSpec spec{"olmoe", "OLMoE", hparams, load, build};
    return spec;
}

}  // namespace eg
