// `smollm3`: SmolLM3-3B. Llama's block (adjacent-pair RoPE, GQA, SwiGLU),
// except that every fourth block, (il + 1) % 4 == 0, rotates nothing: no
// position enters its attention (NoPE). There is no key for it: llama.cpp
// 0.3.16 fixes the step at 4 for this architecture (n_no_rope_layer_step),
// and its converter writes nothing of HF's no_rope_layers.
//   x += attention(x) (no RoPE in blocks 3, 7, 11, ...);  x += swiglu_ffn(x)
#include "model/arch/blocks.h"

namespace eg {

namespace {

constexpr blocks::Standard kBlock{.rope = RopeType::Normal};
constexpr int64_t kNoRopeStep = 4;

Status hparams(const GgufFile& f, HParams& hp) { return blocks::standard_hparams(kBlock, f, hp); }

Status load(TensorLoader& t, const HParams& hp, int64_t, LayerWeights& L) {
    return blocks::standard_load(kBlock, t, hp, L);
}

void build(BlockBuilder& g) {
    blocks::AttentionOptions a;
    a.rope = (g.il + 1) % kNoRopeStep != 0;
    blocks::attention(g, kBlock.attention, a);
    blocks::dense_ffn(g);
}

}  // namespace

const ArchSpec& arch_smollm3() {
    static const ArchSpec spec{"smollm3", "SmolLM3", hparams, load, build};
    return spec;
}

}  // namespace eg
