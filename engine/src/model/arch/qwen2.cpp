// `qwen2`: Qwen2, Qwen2.5. NeoX-style RoPE (rotates the two halves of each
// head) and biases on the Q, K and V projections.
//   x += attention(x) with QKV biases;  x += swiglu_ffn(x)
#include "model/arch/blocks.h"

namespace eg {

namespace {
constexpr blocks::Standard kBlock{.attention = {.qkv_bias = true}};
}  // namespace

const ArchSpec& arch_qwen2() { return blocks::standard_arch<kBlock>("qwen2", "Qwen2, Qwen2.5"); }

}  // namespace eg
