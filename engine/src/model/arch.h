// What differs between the architecture families the shared decoder runs.
// Each family lives in its own file (arch_llama.cpp, arch_qwen2.cpp, ...).
#pragma once

#include <string_view>

#include "model/hparams.h"

namespace eg {

struct ArchSpec {
    std::string_view name;        // general.architecture
    RopeType rope_type;
    bool qkv_bias;                // attn_{q,k,v}.bias tensors
    bool qk_norm;                 // attn_{q,k}_norm.weight: RMSNorm per head before RoPE
    std::string_view families;    // models known to use it, for `info`
};

const ArchSpec& arch_llama();
const ArchSpec& arch_qwen2();
const ArchSpec& arch_qwen3();

// nullptr when the architecture is not supported.
const ArchSpec* find_arch(std::string_view name);

}  // namespace eg
