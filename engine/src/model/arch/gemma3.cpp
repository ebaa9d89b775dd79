// `gemma3`: Gemma 3 (text; 270M, 1B, 4B, 12B, 27B). The token rows are
// multiplied by sqrt(n_embd). Five of every six blocks (il % 6 < 5) attend
// through a sliding window of ARCH.attention.sliding_window positions and
// rotate with base 10000 and no scaling; every sixth sees the whole context
// with the file's base and linear scaling. Per-head QK-norm, NeoX RoPE, an
// RMSNorm on the attention's and on the FFN's output before each residual
// add (post_attention_norm, post_ffw_norm), and a GELU-gated FFN. Gemma's
// RMSNorm multiplies by (1 + w): llama.cpp's converter stores 1 + w in the
// GGUF, so the norms here are plain. The pattern, the local base and the
// score scale are not keys: llama.cpp 0.3.16 fixes them per architecture.
//   x = embd * sqrt(n_embd)
//   x += post_norm(attention(x));  x += post_norm(geglu_ffn(x))
#include <cmath>

#include "gguf/gguf.h"
#include "model/arch/blocks.h"
#include "model/model.h"

namespace eg {

namespace {

constexpr blocks::Standard kBlock{.attention = {.qk_norm = blocks::QkNorm::PerHead}};
constexpr int64_t kSwaPattern = 6;          // blocks il % 6 < 5 slide
constexpr float kLocalRopeBase = 10000.0f;  // the sliding blocks' base (HF rope_local_base_freq)

Status hparams(const GgufFile& f, HParams& hp) {
    if (auto s = blocks::read_sliding_window(f, hp); !s) return s;
    hp.embd_scale = std::sqrt((float)hp.n_embd);
    return blocks::standard_hparams(kBlock, f, hp);
}

Status load(TensorLoader& t, const HParams& hp, int64_t, LayerWeights& L) {
    if (auto s = blocks::standard_load(kBlock, t, hp, L); !s) return s;
    return blocks::load_post_norms(t, hp, L);
}

void build(BlockBuilder& g) {
    const HParams& hp = g.hp;
    const bool local = g.il % kSwaPattern < kSwaPattern - 1;
    blocks::AttentionOptions a;
    a.post_norm = true;
    if (local) {
        a.window = hp.n_swa;
        a.rope_base = kLocalRopeBase;
        a.rope_scale = 1.0f;
    }
    // gemma 27B (62 blocks) scales the scores by 1/sqrt(n_embd / n_head)
    // (its query_pre_attn_scalar), the others by 1/sqrt(head_dim): llama.cpp
    // tells them apart by the block count.
    if (hp.n_layer == 62) a.kq_scale = 1.0f / std::sqrt((float)(hp.n_embd / hp.n_head));
    blocks::attention(g, kBlock.attention, a);
    blocks::dense_ffn(g, blocks::FfnOptions{.gelu = true, .post_norm = true});
}

}  // namespace

const ArchSpec& arch_gemma3() {
    static const ArchSpec spec{"gemma3", "Gemma 3 (text)", hparams, load, build};
    return spec;
}

}  // namespace eg
