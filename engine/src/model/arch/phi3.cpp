// `phi3`: Phi-3 / Phi-3.5 mini and medium, Phi-4-mini. Q, K and V come from
// one fused matrix attn_qkv (rows: Q, then K, then V) and the FFN's gate and
// up from one ffn_up of 2 x n_ff rows (gate first): both are split here into
// views of the same bytes, so the block is the standard one. NeoX RoPE over
// rope.dimension_count values of each head (Phi-4-mini rotates 3/4 of them).
// Long-context files carry LongRoPE: per-pair frequency divisors
// rope_factors_short / rope_factors_long and rope.scaling.attn_factor on cos
// and sin; as llama.cpp, the short factors serve a session whose context is
// within rope.scaling.original_context_length and the long ones a longer
// one. ARCH.attention.sliding_window is ignored, as llama.cpp 0.3.16 does
// ("Phi SWA is currently disabled"): every block sees the whole context.
//   x += attention(x);  x += swiglu_ffn(x)
#include "core/log.h"
#include "gguf/gguf.h"
#include "model/arch/blocks.h"
#include "model/model.h"

namespace eg {

namespace {

constexpr blocks::Standard kBlock{};  // NeoX

Status hparams(const GgufFile& f, HParams& hp) {
    if (hp.q_dim() != hp.n_embd)
        return f.error(hp.arch + ".attention.head_count", "times the head size must be the embedding length in phi3");
    hp.n_ctx_orig = hp.n_ctx_train;
    auto orig = f.get_int(hp.arch + ".rope.scaling.original_context_length");
    if (!orig) return orig.error();
    if (orig.value()) {
        if (*orig.value() < 1 || *orig.value() > (1 << 24))
            return f.error(hp.arch + ".rope.scaling.original_context_length", "must be in [1, 16777216]");
        hp.n_ctx_orig = *orig.value();
    }
    auto swa = f.get_int(hp.arch + ".attention.sliding_window");
    if (!swa) return swa.error();
    if (swa.value() && *swa.value() > 0)
        EG_LOG_WARN("{}.attention.sliding_window {} is ignored, as llama.cpp ignores it: every block sees the whole "
                    "context",
                    hp.arch, *swa.value());
    return blocks::standard_hparams(kBlock, f, hp);
}

Status load(TensorLoader& t, const HParams& hp, int64_t, LayerWeights& L) {
    const int64_t D = hp.n_embd, QD = hp.q_dim(), KVD = hp.kv_dim(), FF = hp.n_ff;
    WeightView qkv, gate_up;
    if (auto s = t.vec("attn_norm.weight", D, &L.attn_norm); !s) return s;
    if (auto s = t.matrix("attn_qkv.weight", D, QD + 2 * KVD, &qkv); !s) return s;  // [n_embd, q_dim + 2 kv_dim]
    L.wq = blocks::rows_of(qkv, 0, QD);
    L.wk = blocks::rows_of(qkv, QD, KVD);
    L.wv = blocks::rows_of(qkv, QD + KVD, KVD);
    if (auto s = t.matrix("attn_output.weight", QD, D, &L.wo); !s) return s;
    if (auto s = t.vec("ffn_norm.weight", D, &L.ffn_norm); !s) return s;
    if (auto s = t.matrix("ffn_up.weight", D, 2 * FF, &gate_up); !s) return s;         // [n_embd, 2 n_ff]
    L.gate = blocks::rows_of(gate_up, 0, FF);
    L.up = blocks::rows_of(gate_up, FF, FF);
    return t.matrix("ffn_down.weight", FF, D, &L.down);
}

void build(BlockBuilder& g) { blocks::standard_build(kBlock, g); }

}  // namespace

const ArchSpec& arch_phi3() {
    static const ArchSpec spec{"phi3", "Phi-3, Phi-3.5, Phi-4-mini", hparams, load, build, "rope_factors_short.weight",
                               "rope_factors_long.weight"};
    return spec;
}

}  // namespace eg
