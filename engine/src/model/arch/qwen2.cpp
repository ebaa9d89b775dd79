// `qwen2`: Qwen2, Qwen2.5. NeoX-style RoPE (rotates the two halves of each
// head) and biases on the Q, K and V projections.
//   x += attention(x) with QKV biases;  x += swiglu_ffn(x)
#include "model/arch/blocks.h"

namespace eg {

namespace {

constexpr blocks::AttentionSpec kAttention{.qkv_bias = true};

Status hparams(const GgufFile&, HParams& hp) {
    hp.rope_type = RopeType::NeoX;
    hp.has_qkv_bias = true;
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

const ArchSpec& arch_qwen2() {
    static const ArchSpec spec{"qwen2", "Qwen2, Qwen2.5", hparams, load, build};
    return spec;
}

}  // namespace eg
