// The Engram configuration of a model file: ARCH.engram.* keys and the
// blk.N.engram_* tensors (DESIGN.md §4), read and validated.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/result.h"
#include "cpu/matmul.h"
#include "gguf/gguf.h"
#include "model/hparams.h"

namespace eg::engram {

enum class Form { V41, Demo };  // DeepSeek-V4.1 fused wkv | engram_demo_v1.py

// Where one layer's table lives in the file: rows of key_length values of
// `type`, row_bytes each, starting at file_offset (absolute, in the GGUF).
struct TableInfo {
    std::string tensor;        // blk.N.engram_embd.weight
    GgmlType type = GgmlType::F16;
    int64_t key_length = 0;    // values per row
    uint64_t n_rows = 0;
    uint64_t row_bytes = 0;
    uint64_t file_offset = 0;  // of row 0
    const uint8_t* mapped = nullptr;  // row 0 inside the file mapping
};

// Tensors of one Engram layer. V41: wkv. Demo: key/value (+bias), conv.
struct LayerTensors {
    int64_t layer = 0;         // block index
    TableInfo table;
    WeightView wkv;            // V41: [E, 2*n_embd] (key then value)
    WeightView key, value;     // Demo: [E, n_embd], [E, n_embd]
    const float* key_bias = nullptr;    // [n_embd]
    const float* value_bias = nullptr;  // [n_embd]
    const float* q_norm = nullptr;      // [n_embd] RMSNorm of the query (hidden state)
    const float* k_norm = nullptr;      // [n_embd] RMSNorm of the key
    const float* conv = nullptr;        // Demo: [n_embd][kernel] depthwise
    const float* conv_norm = nullptr;   // Demo: [n_embd]
};

struct Config {
    Form form = Form::V41;
    std::vector<int64_t> layer_ids;        // blocks with a module
    int64_t head_count = 0;                // hash heads per n-gram order
    int64_t key_length = 0;                // values per row
    int64_t max_ngram = 0;                 // n-grams 2..max_ngram
    int64_t conv_kernel = 0;               // Demo only
    std::vector<uint64_t> multipliers;     // [n_layers][max_ngram]
    std::vector<uint64_t> primes;          // [n_layers][heads_per_layer()]
    std::vector<uint64_t> offsets;         // same shape
    std::vector<int32_t> token_map;        // token id -> compressed id
    int64_t n_compressed = 0;              // classes: max(token_map) + 1
    int64_t pad_id = 0;                    // compressed id before the sequence
    float norm_eps = 1e-5f;                // RMSNorm epsilon (the model's)
    std::vector<LayerTensors> layers;      // one per layer_ids entry
    // Small vectors (norms, biases, conv) converted to F32 at read; shared so
    // that a copied Config keeps the LayerTensors pointers valid.
    std::vector<std::shared_ptr<const std::vector<float>>> owned;

    // (max_ngram - 1) * head_count: rows gathered per position per layer.
    int64_t heads_per_layer() const { return (max_ngram - 1) * head_count; }
    // E = heads_per_layer() * key_length: width of the gathered vector.
    int64_t gathered_width() const { return heads_per_layer() * key_length; }
    uint64_t table_bytes() const;          // all layers
    // Index into layers of block il, or -1.
    int index_of_layer(int64_t il) const;
};

// True when the file declares Engram (ARCH.engram.layer_ids present).
bool has_engram(const GgufFile& f);

// Reads and validates everything: key types and ranges, primes summing to
// each table's rows, offsets = exclusive prefix sums, token map in range and
// as long as the vocabulary, tensor shapes and types. Errors name the file,
// the key or tensor, and the reason.
Result<Config> read_config(const GgufFile& f, const HParams& hp);

std::string describe(const Config& c);

}  // namespace eg::engram
