// `qwen3moe`: Qwen3-30B-A3B, Qwen3-235B-A22B. Qwen3's attention (NeoX RoPE,
// per-head QK-norm, key_length heads) and a mixture of experts in every
// block: softmax router over all experts, the top expert_used_count taken and
// their probabilities renormalized to sum to 1. The experts' width is
// expert_feed_forward_length (feed_forward_length is the dense width).
//   x += attention(x);  x += moe_ffn(x)
#include "model/arch/blocks.h"

namespace eg {

namespace {
constexpr blocks::Standard kBlock{.attention = {.qk_norm = blocks::QkNorm::PerHead},
                                      .moe = true,
                                      .experts = {.renormalize = true}};
}  // namespace

const ArchSpec& arch_qwen3moe() { return blocks::standard_arch<kBlock>("qwen3moe", "Qwen3-30B-A3B, Qwen3-235B-A22B"); }

}  // namespace eg
