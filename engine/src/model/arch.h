// The architectures the engine runs. Each is one file in model/arch/ that
// says three things: its hyper-parameters beyond the common keys, the
// tensors of a block (through a TensorLoader, which checks names, shapes and
// types), and the block's operations (model/graph.h). Adding an architecture
// is one such file, its line in find_arch(), and its test.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"
#include "model/graph.h"
#include "model/hparams.h"

namespace eg {

class GgufFile;
struct ExpertMatrices;

// Finds a block's tensors in the file with the shapes the hyper-parameters
// give; a tensor missing, of another shape or of a type without kernels is
// an error naming it. Implemented by the model loader (model.cpp).
class TensorLoader {
public:
    virtual ~TensorLoader() = default;
    // The block's "blk.N.<suffix>" tensors.
    virtual Status matrix(const std::string& suffix, int64_t k, int64_t n, WeightView* out, bool required = true) = 0;
    virtual Status vec(const std::string& suffix, int64_t n, const float** out, bool required = true) = 0;
    // n_expert matrices [k -> rows] stacked in one tensor ne [k, rows, n_expert].
    virtual Status experts(const std::string& suffix, int64_t k, int64_t rows, int64_t n_expert,
                           ExpertMatrices* out) = 0;
    // Their biases, one row per expert: an F32 tensor ne [rows, n_expert].
    virtual Status expert_bias(const std::string& suffix, int64_t rows, int64_t n_expert, ExpertMatrices* out) = 0;
};

struct ArchSpec {
    std::string_view name;      // general.architecture
    std::string_view families;  // models known to use it, for `info`
    // Sets what the architecture fixes (rope type, ...) and reads its own keys,
    // after the common ones.
    Status (*hparams)(const GgufFile& f, HParams& hp) = nullptr;
    Status (*load_block)(TensorLoader& t, const HParams& hp, int64_t il, LayerWeights& L) = nullptr;
    void (*build_block)(BlockBuilder& g) = nullptr;
    // The model's RoPE frequency factors [n_rot/2], where it has them (llama3:
    // rope_freqs.weight; phi3's LongRoPE: rope_factors_short.weight).
    std::string_view rope_factors = "rope_freqs.weight";
    // Those for a session longer than hp.n_ctx_orig (phi3: rope_factors_long.weight), or none.
    std::string_view rope_factors_long = "";
};

const ArchSpec& arch_llama();
const ArchSpec& arch_qwen2();
const ArchSpec& arch_qwen3();
const ArchSpec& arch_qwen3moe();
const ArchSpec& arch_olmoe();
const ArchSpec& arch_gptoss();
const ArchSpec& arch_gemma2();
const ArchSpec& arch_gemma3();
const ArchSpec& arch_phi3();
const ArchSpec& arch_smollm3();
const ArchSpec& arch_granite();

// nullptr when the architecture is not supported.
const ArchSpec* find_arch(std::string_view name);
// "llama, qwen2, ..." for messages.
std::string supported_archs();

}  // namespace eg
