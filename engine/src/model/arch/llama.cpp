// `llama`: SmolLM2, Llama 2/3.x, TinyLlama, Mistral. The GGUF converter
// permutes Q/K rows so that RoPE rotates adjacent pairs. Llama 3.1+ rope
// scaling arrives as per-frequency factors in `rope_freqs.weight`.
//   x += attention(x);  x += swiglu_ffn(x)
#include "model/arch/blocks.h"

namespace eg {

namespace {
constexpr blocks::Standard kBlock{.rope = RopeType::Normal};
}  // namespace

const ArchSpec& arch_llama() { return blocks::standard_arch<kBlock>("llama", "SmolLM2, Llama 2/3.x, TinyLlama, Mistral"); }

}  // namespace eg
