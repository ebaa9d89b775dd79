// `granite`: IBM Granite 3.x dense (2B, 8B). Llama's block (adjacent-pair
// RoPE, GQA, SwiGLU) with four multipliers, all required keys as llama.cpp
// reads them: the token rows times ARCH.embedding_scale, the attention
// scores scaled by ARCH.attention.scale (instead of 1/sqrt(head_dim)), each
// block's attention and FFN outputs times ARCH.residual_scale before their
// residual adds, and the logits divided by ARCH.logit_scale. RoPE is on
// unless ARCH.rope.scaling.finetuned says false (llama.cpp's switch for it).
//   x = embd * embedding_scale
//   x += residual_scale * attention(x);  x += residual_scale * swiglu_ffn(x)
//   logits = head(x) / logit_scale
#include "gguf/gguf.h"
#include "model/arch/blocks.h"

namespace eg {

namespace {

constexpr blocks::Standard kBlock{.rope = RopeType::Normal};

Status need_positive(const GgufFile& f, const std::string& key, float* out) {
    auto v = f.get_float(key);
    if (!v) return v.error();
    if (!v.value()) return f.error(key, "missing (granite scales by it)");
    if (!(*v.value() > 0 && *v.value() < 1e6)) return f.error(key, "must be in (0, 1000000)");
    *out = (float)*v.value();
    return {};
}

Status hparams(const GgufFile& f, HParams& hp) {
    const std::string a = hp.arch + ".";
    if (auto s = need_positive(f, a + "embedding_scale", &hp.embd_scale); !s) return s;
    if (auto s = need_positive(f, a + "residual_scale", &hp.residual_scale); !s) return s;
    if (auto s = need_positive(f, a + "attention.scale", &hp.attn_scale); !s) return s;
    if (auto s = need_positive(f, a + "logit_scale", &hp.logit_scale); !s) return s;
    auto rope = f.get_bool(a + "rope.scaling.finetuned");
    if (!rope) return rope.error();
    hp.no_rope = rope.value() && !*rope.value();
    return blocks::standard_hparams(kBlock, f, hp);
}

Status load(TensorLoader& t, const HParams& hp, int64_t, LayerWeights& L) {
    return blocks::standard_load(kBlock, t, hp, L);
}

void build(BlockBuilder& g) {
    const HParams& hp = g.hp;
    blocks::AttentionOptions a;
    a.rope = !hp.no_rope;
    a.kq_scale = hp.attn_scale;
    a.residual_scale = hp.residual_scale;
    blocks::attention(g, kBlock.attention, a);
    blocks::dense_ffn(g, blocks::FfnOptions{.residual_scale = hp.residual_scale});
}

}  // namespace

const ArchSpec& arch_granite() {
    static const ArchSpec spec{"granite", "IBM Granite 3.x (dense)", hparams, load, build};
    return spec;
}

}  // namespace eg
