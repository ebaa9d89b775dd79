// What the planner needs to know about a model, read from the GGUF header and
// tensor table only (no weight is touched, so it works on a 100 GB file):
// shapes, bytes per block, the token table and output head, and the Engram
// tables (blk.N.engram_embd.weight) found by the ARCH.engram.* keys.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/result.h"
#include "gguf/gguf.h"

namespace eg {

// One Engram layer's table as the planner sees it: rows of row_bytes each.
struct EngramTableShape {
    int64_t layer = 0;                   // block index
    std::string tensor;                  // blk.N.engram_embd.weight
    uint64_t rows = 0;
    uint64_t row_bytes = 0;
    int64_t row_values = 0;              // values per row (key_length)
    bool has_conv = false;               // the demo form: a conv whose history is kept per position
    uint64_t bytes() const { return rows * row_bytes; }
};

struct ModelInfo {
    std::string path;
    std::string arch;                    // general.architecture
    uint64_t file_bytes = 0;
    int64_t n_layer = 0, n_embd = 0, n_ff = 0, n_head = 0, n_head_kv = 0, head_dim = 0;
    int64_t n_vocab = 0;                 // rows of token_embd.weight
    int64_t n_ctx_train = 0;
    bool tied_output = false;            // no output.weight: the head reuses token_embd
    // Mixture of experts (model/moe_shape.h); 0 in a dense model.
    int64_t n_expert = 0, n_expert_used = 0;
    // [n_layer]: all experts of each block as stored (counted in
    // block_weight_bytes too); 0 for a dense block.
    std::vector<uint64_t> block_expert_bytes;
    // [n_layer]: the same experts as the CPU holds them (packed per expert).
    std::vector<uint64_t> block_expert_cpu_bytes;
    // One expert as the expert tier's DRAM cache holds it: its gate, up and
    // down slices, each rounded up to 4 KiB (the largest block's).
    uint64_t expert_slot_bytes = 0;
    uint64_t expert_bytes() const;

    // [n_layer]: every blk.N.* tensor except the Engram table. Decode reads
    // all of a dense block's weights once per token (a MoE block's: all but
    // the experts the token does not run, block_cpu_read).
    std::vector<uint64_t> block_weight_bytes;
    // [n_layer]: the same blocks as the CPU backend of this machine holds and
    // reads them — its packed copies of the matrices (quant/packed.h) where
    // the CPU has packed kernels; empty: block_weight_bytes.
    std::vector<uint64_t> block_cpu_bytes;
    // The matrices of each block and of the head as the CPU runs them (type,
    // bytes held), for the compute side of the decode prediction.
    struct CpuMatrix {
        uint32_t type = 0;
        uint64_t bytes = 0;
    };
    std::vector<std::vector<CpuMatrix>> block_cpu_matrices;
    std::vector<int64_t> block_cpu_calls;  // matrix products the CPU runs per block per token
    CpuMatrix head_cpu_matrix;
    uint64_t output_cpu_bytes = 0;       // the head as the CPU reads it; 0: output_bytes
    bool output_cpu_packed = false;      // the CPU holds a packed copy of the head
    uint64_t token_embd_bytes = 0;       // token_embd.weight
    uint64_t output_bytes = 0;           // output.weight, or token_embd's bytes when tied
    uint64_t output_norm_bytes = 0;      // output_norm.weight
    uint64_t other_bytes = 0;            // tensors outside blocks (rope_freqs, ...)
    uint64_t token_row_bytes = 0;        // one token's embedding row (read per token)

    // Engram (empty without ARCH.engram.layer_ids).
    std::vector<EngramTableShape> engram_tables;  // in layer_ids order
    int64_t engram_head_count = 0;       // ARCH.engram.head_count
    int64_t engram_max_ngram = 0;        // ARCH.engram.max_ngram_size

    // Rows each Engram layer gathers per token: (max_ngram - 1) * head_count.
    int64_t engram_rows_per_token() const {
        return engram_max_ngram > 1 ? (engram_max_ngram - 1) * engram_head_count : 0;
    }
    // Share of a MoE block's experts one token runs: used / count (1 if dense).
    double expert_read_share() const { return n_expert > 0 ? (double)n_expert_used / (double)n_expert : 1.0; }
    // Bytes the CPU reads of block il per decoded token: its weights, of its
    // experts only those a token runs (routing taken as even over the experts).
    uint64_t block_cpu_read(int64_t il) const {
        const uint64_t e = (size_t)il < block_expert_cpu_bytes.size() ? block_expert_cpu_bytes[(size_t)il] : 0;
        return block_cpu(il) - e + (uint64_t)((double)e * expert_read_share());
    }
    // Block il as the CPU holds it (and reads it per token).
    uint64_t block_cpu(int64_t il) const {
        return block_cpu_bytes.empty() ? block_weight_bytes[(size_t)il] : block_cpu_bytes[(size_t)il];
    }
    // The head as the CPU reads it per token, and what it holds beyond the
    // token table for it (a tied head read from the file holds nothing more).
    uint64_t head_cpu_read() const { return output_cpu_bytes ? output_cpu_bytes : output_bytes; }
    uint64_t head_cpu_held() const { return output_cpu_packed ? output_cpu_bytes : (tied_output ? 0 : output_bytes); }
    // F16 K and V of one block at n_ctx tokens.
    uint64_t kv_bytes_per_block(int64_t n_ctx) const {
        return 2ull * (uint64_t)n_ctx * (uint64_t)n_head_kv * (uint64_t)head_dim * 2ull;
    }
    // Weights of the model without the Engram tables, the output head counted
    // once (a tied head is the token table).
    uint64_t weights_bytes() const;
    uint64_t blocks_bytes() const;
    uint64_t engram_table_bytes() const;
};

// Reads f's header and tensor table. Errors name the file, the key or tensor
// and the reason (missing keys, a block index past block_count, and the
// Engram keys and tables as read_engram_shape (model/engram_shape.h) checks
// them: a layer without its table, rows of another width than key_length...).
Result<ModelInfo> model_info(const GgufFile& f);

}  // namespace eg
