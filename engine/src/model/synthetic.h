// Random-weight models of any shape, written as complete GGUF files the engine
// loads and runs: they stand in for 1B- and 8B-shaped models where nothing can
// be downloaded (the GPU machine, CI). Weights are generated and quantized in
// chunks while the file is written, so an 8B-shaped file never sits in memory.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"
#include "quant/types.h"

namespace eg {

struct SyntheticOptions {
    std::string arch = "llama";  // llama | qwen2 (QKV biases) | qwen3 (QK-norm) | qwen3moe (experts)
    int64_t n_layer = 2;         // ARCH.block_count
    int64_t n_embd = 256;        // ARCH.embedding_length
    int64_t n_head = 4;          // ARCH.attention.head_count
    int64_t n_head_kv = 0;       // ARCH.attention.head_count_kv; 0: n_head
    int64_t n_ff = 512;          // ARCH.feed_forward_length
    // qwen3moe: every block's FFN is n_expert experts of width n_ff_exp, of
    // which n_expert_used run per token (ARCH.expert_*); the router is F32.
    int64_t n_expert = 0;
    int64_t n_expert_used = 0;
    int64_t n_ff_exp = 0;
    int64_t n_vocab = 512;       // at least 260: 256 byte tokens, 3 special, 1 more
    int64_t n_ctx = 4096;        // ARCH.context_length
    // Type of every matrix (token_embd and output included): F32, F16, BF16,
    // Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, MXFP4, IQ4_NL,
    // IQ4_XS (the other i-quants have no quantizer here).
    GgmlType type = GgmlType::Q4_K;
    uint64_t seed = 1;           // same options and seed: the same bytes
    bool tied_output = true;     // false: a separate output.weight
    std::string out_path;        // written to out_path + ".tmp", then renamed
    int n_threads = 0;           // generating threads; 0: physical cores
};

// "q4_k", "Q4_K", "f16", ... -> the type; an error sentence listing the
// accepted names otherwise (for the command line).
Result<GgmlType> parse_synthetic_type(std::string_view name);

// Bytes the file will have (header excluded): what a caller can check
// against free disk space before writing.
Result<uint64_t> synthetic_tensor_bytes(const SyntheticOptions& opt);

// Validates the shape (a sentence naming the field when it is wrong; nothing
// is written then) and writes the model.
Status write_synthetic_model(const SyntheticOptions& opt);

}  // namespace eg
