// `llama`: SmolLM2, Llama 2/3.x, TinyLlama, Mistral. The GGUF converter
// permutes Q/K rows so that RoPE rotates adjacent pairs. Llama 3.1+ rope
// scaling arrives as per-frequency factors in `rope_freqs.weight`.
//   x += attention(x);  x += swiglu_ffn(x)
#include "model/arch/blocks.h"

namespace eg {

namespace {

Status hparams(const GgufFile&, HParams& hp) {
    hp.rope_type = RopeType::Normal;
    return {};
}

Status load(TensorLoader& t, const HParams& hp, int64_t, LayerWeights& L) {
    if (auto s = blocks::load_attention(t, hp, L, {}); !s) return s;
    return blocks::load_dense_ffn(t, hp, L);
}

void build(BlockBuilder& g) {
    blocks::attention(g, {});
    blocks::dense_ffn(g);
}

}  // namespace

const ArchSpec& arch_llama() {
    static const ArchSpec spec{"llama", "SmolLM2, Llama 2/3.x, TinyLlama, Mistral", hparams, load, build};
    return spec;
}

}  // namespace eg
