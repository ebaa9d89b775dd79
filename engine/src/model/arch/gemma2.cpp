// `gemma2`: Gemma 2 (2B, 9B, 27B). The token rows are multiplied by
// sqrt(n_embd); the even blocks attend through a sliding window of
// ARCH.attention.sliding_window positions (4096 when the key is absent, as
// llama.cpp), the odd ones see the whole context. The attention scores are
// soft-capped, s -> c * tanh(s / c) with c = ARCH.attn_logit_softcapping
// (50 when absent), and so are the logits with ARCH.final_logit_softcapping
// (30). NeoX RoPE, an RMSNorm on the attention's and on the FFN's output
// before each residual add, and a GELU-gated FFN. The norms are stored as
// (1 + w) by llama.cpp's converter and used as they are; the files tie the
// output head to token_embd.
//   x = embd * sqrt(n_embd)
//   x += post_norm(attention(x), softcapped);  x += post_norm(geglu_ffn(x))
//   logits = softcap(head(x))
#include <cmath>

#include "gguf/gguf.h"
#include "model/arch/blocks.h"
#include "model/model.h"

namespace eg {

namespace {

constexpr blocks::Standard kBlock{};  // NeoX RoPE, plain Q/K/V

Status read_positive(const GgufFile& f, const std::string& key, float* out) {
    auto v = f.get_float(key);
    if (!v) return v.error();
    if (!v.value()) return {};
    if (!(*v.value() > 0 && *v.value() < 1e6)) return f.error(key, "must be in (0, 1000000)");
    *out = (float)*v.value();
    return {};
}

Status hparams(const GgufFile& f, HParams& hp) {
    const std::string a = hp.arch + ".";
    if (auto s = blocks::read_sliding_window(f, hp, 4096); !s) return s;
    hp.attn_softcap = 50.0f;
    hp.final_softcap = 30.0f;
    if (auto s = read_positive(f, a + "attn_logit_softcapping", &hp.attn_softcap); !s) return s;
    if (auto s = read_positive(f, a + "final_logit_softcapping", &hp.final_softcap); !s) return s;
    hp.embd_scale = std::sqrt((float)hp.n_embd);
    return blocks::standard_hparams(kBlock, f, hp);
}

Status load(TensorLoader& t, const HParams& hp, int64_t, LayerWeights& L) {
    if (auto s = blocks::standard_load(kBlock, t, hp, L); !s) return s;
    return blocks::load_post_norms(t, hp, L);
}

void build(BlockBuilder& g) {
    const HParams& hp = g.hp;
    blocks::AttentionOptions a;
    a.post_norm = true;
    a.softcap = hp.attn_softcap;
    if (g.il % 2 == 0) a.window = hp.n_swa;
    // gemma 27B (46 blocks) scales the scores by 1/sqrt(n_embd / n_head), the
    // others by 1/sqrt(head_dim): llama.cpp tells them apart by the block count.
    if (hp.n_layer == 46) a.kq_scale = 1.0f / std::sqrt((float)(hp.n_embd / hp.n_head));
    blocks::attention(g, kBlock.attention, a);
    blocks::dense_ffn(g, blocks::FfnOptions{.gelu = true, .post_norm = true});
}

}  // namespace

const ArchSpec& arch_gemma2() {
    static const ArchSpec spec{"gemma2", "Gemma 2", hparams, load, build};
    return spec;
}

}  // namespace eg
