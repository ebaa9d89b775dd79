// The mixture-of-experts shape of a model file: how many experts each MoE
// block has and uses per token, their width, and each block's router and
// stacked expert matrices. The one reader of the ARCH.expert_* keys and the
// blk.N.ffn_*_exps tensors (the planner's, and the MoE forward's when it
// comes), which checks that the keys and the tensors agree: a file where they
// do not is refused with one sentence naming the key or the tensor.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "gguf/gguf.h"

namespace eg {

// One MoE block: the router and the three matrices, experts stacked last.
struct MoeLayer {
    int64_t layer = 0;
    const GgufTensorInfo* router = nullptr;  // blk.N.ffn_gate_inp.weight   [n_embd, n_expert]
    const GgufTensorInfo* gate = nullptr;    // blk.N.ffn_gate_exps.weight  [n_embd, n_ff_exp, n_expert]
    const GgufTensorInfo* up = nullptr;      // blk.N.ffn_up_exps.weight    [n_embd, n_ff_exp, n_expert]
    const GgufTensorInfo* down = nullptr;    // blk.N.ffn_down_exps.weight  [n_ff_exp, n_embd, n_expert]
    uint64_t expert_bytes = 0;               // one expert's gate + up + down, as stored
};

struct MoeShape {
    int64_t n_expert = 0;        // ARCH.expert_count
    int64_t n_expert_used = 0;   // ARCH.expert_used_count: experts each token runs per block
    int64_t n_ff_exp = 0;        // ARCH.expert_feed_forward_length, or the tensors' width
    std::vector<MoeLayer> layers;  // the MoE blocks, in order (dense blocks are not listed)

    // All experts of all blocks, as stored: what the memory tiers hold.
    uint64_t expert_bytes() const;
};

// Reads and checks the expert keys (count in [1, 65536], used count in
// [1, count], width) and, per block, the router and expert matrices: all
// three or none (a dense block), shapes as above, the same width and count
// as the keys. Nullopt when the file has neither ARCH.expert_count nor an
// expert tensor. Errors: "<file>: <key or tensor>: <reason>".
Result<std::optional<MoeShape>> read_moe_shape(const GgufFile& f, std::string_view arch, int64_t n_layer,
                                               int64_t n_embd);

}  // namespace eg
