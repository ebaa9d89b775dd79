// `olmoe`: OLMoE-1B-7B. NeoX RoPE, an RMSNorm over the whole Q and K
// projections (weights [q_dim] and [kv_dim], not per head), and a mixture of
// experts in every block: softmax router, the top expert_used_count taken
// with their probabilities as they are (no renormalization). llama.cpp sizes
// the experts from feed_forward_length; moe_shape.h checks it against the
// tensors.
//   x += attention(x) with whole-projection QK-norm;  x += moe_ffn(x)
#include "model/arch/blocks.h"

namespace eg {

namespace {
constexpr blocks::Standard kBlock{.attention = {.qk_norm = blocks::QkNorm::Whole},
                                      .moe = true,
                                      .experts = {.renormalize = false}};
}  // namespace

const ArchSpec& arch_olmoe() { return blocks::standard_arch<kBlock>("olmoe", "OLMoE"); }

}  // namespace eg
