// The Engram shape of a model file (DESIGN.md §4): which blocks have a
// module, its hash heads and n-gram orders, the width of a table row, and
// each of those blocks' table blk.N.engram_embd.weight. The one reader of
// these ARCH.engram.* keys and tables, for the planner (plan/model_info.cpp),
// which needs no more, and for the engram library (engram/src/config.cpp),
// which reads the rest (hash multipliers and primes, token map, the modules'
// weights) on top. The engine runs no Engram module itself (model/extension.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "gguf/gguf.h"
#include "quant/types.h"

namespace eg {

// One block's table: rows of key_length values of `type`.
struct EngramTable {
    int64_t layer = 0;                      // block index
    std::string tensor;                     // blk.N.engram_embd.weight
    const GgufTensorInfo* info = nullptr;   // in the file it was read from
    GgmlType type = GgmlType::F16;
    uint64_t rows = 0;
    uint64_t row_bytes = 0;
};

struct EngramShape {
    std::vector<int64_t> layer_ids;         // ARCH.engram.layer_ids: blocks with a module
    int64_t head_count = 0;                 // ARCH.engram.head_count: hash heads per n-gram order
    int64_t key_length = 0;                 // ARCH.engram.key_length: values per table row
    int64_t max_ngram = 0;                  // ARCH.engram.max_ngram_size: n-grams 2..max_ngram
    std::vector<EngramTable> tables;        // in layer_ids order

    // (max_ngram - 1) * head_count: rows gathered per position per layer.
    int64_t heads_per_layer() const { return (max_ngram - 1) * head_count; }
};

// "ARCH.engram.<name>".
std::string engram_key(std::string_view arch, std::string_view name);

// True when f declares Engram modules (ARCH.engram.layer_ids is present).
bool engram_declared(const GgufFile& f, std::string_view arch);

// An integer key in [lo, hi]; errors "<file>: <key>: missing" and
// "<file>: <key>: <value> is out of range [lo, hi]".
Result<int64_t> read_int_key(const GgufFile& f, const std::string& key, int64_t lo, int64_t hi);

// Reads and checks the layer ids (inside [0, n_layer), none twice), the
// three counts and every listed block's table (present, rows of key_length
// values of a type whose rows can be gathered). Nullopt when the file
// declares no Engram (no ARCH.engram.layer_ids). Errors name the file, the
// key or tensor and the reason.
Result<std::optional<EngramShape>> read_engram_shape(const GgufFile& f, std::string_view arch, int64_t n_layer);

}  // namespace eg
