// `qwen3`: NeoX-style RoPE, no QKV bias, and an RMSNorm over each head of Q
// and K before RoPE (QK-norm). Head size comes from key_length and may differ
// from n_embd / n_head.
//   x += attention(x) with per-head QK-norm;  x += swiglu_ffn(x)
#include "model/arch/blocks.h"

namespace eg {

namespace {

constexpr blocks::AttentionSpec kAttention{.qk_norm = blocks::QkNorm::PerHead};

Status hparams(const GgufFile&, HParams& hp) {
    hp.rope_type = RopeType::NeoX;
    hp.has_qk_norm = true;
    return {};
}

Status load(TensorLoader& t, const HParams& hp, int64_t, LayerWeights& L) {
    if (auto s = blocks::load_attention(t, hp, L, kAttention); !s) return s;
    return blocks::load_dense_ffn(t, hp, L);
}

void build(BlockBuilder& g) {
    blocks::attention(g, kAttention);
    blocks::dense_ffn(g);
}

}  // namespace

const ArchSpec& arch_qwen3() {
    static const ArchSpec spec{"qwen3", "Qwen3", hparams, load, build};
    return spec;
}

}  // namespace eg
