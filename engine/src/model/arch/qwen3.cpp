// `qwen3`: NeoX-style RoPE, no QKV bias, and an RMSNorm over each head of Q
// and K before RoPE (QK-norm). Head size comes from key_length and may differ
// from n_embd / n_head.
//   x += attention(x) with per-head QK-norm;  x += swiglu_ffn(x)
#include "model/arch/blocks.h"

namespace eg {

namespace {
constexpr blocks::Standard kBlock{.attention = {.qk_norm = blocks::QkNorm::PerHead}};
}  // namespace

const ArchSpec& arch_qwen3() { return blocks::standard_arch<kBlock>("qwen3", "Qwen3"); }

}  // namespace eg
