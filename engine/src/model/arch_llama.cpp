// The `llama` family: SmolLM2, Llama 2/3.x, TinyLlama, Mistral. The GGUF
// converter permutes Q/K rows so that RoPE rotates adjacent pairs. Llama 3.1+
// rope scaling arrives as per-frequency factors in `rope_freqs.weight`.
#include "model/arch.h"

namespace eg {

const ArchSpec& arch_llama() {
    static const ArchSpec spec{"llama", RopeType::Normal, false, false,
                               "SmolLM2, Llama 2/3.x, TinyLlama, Mistral"};
    return spec;
}

const ArchSpec* find_arch(std::string_view name) {
    for (const ArchSpec* a : {&arch_llama(), &arch_qwen2(), &arch_qwen3()})
        if (a->name == name) return a;
    return nullptr;
}

}  // namespace eg
