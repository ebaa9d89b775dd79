// The `qwen2` family (Qwen2, Qwen2.5): NeoX-style RoPE (rotates the two halves
// of each head) and biases on the Q, K and V projections.
#include "model/arch.h"

namespace eg {

const ArchSpec& arch_qwen2() {
    static const ArchSpec spec{"qwen2", RopeType::NeoX, true, false, "Qwen2, Qwen2.5"};
    return spec;
}

}  // namespace eg
