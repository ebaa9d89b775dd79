// The `qwen3` family: NeoX-style RoPE, no QKV bias, and an RMSNorm over each
// head of Q and K before RoPE (QK-norm). Head size comes from key_length and
// may differ from n_embd / n_head.
#include "model/arch.h"

namespace eg {

const ArchSpec& arch_qwen3() {
    static const ArchSpec spec{"qwen3", RopeType::NeoX, false, true, "Qwen3"};
    return spec;
}

}  // namespace eg
