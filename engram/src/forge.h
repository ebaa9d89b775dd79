// Attaches Engram modules to a real model (no small trained Engram model is
// public): token map from the model's tokenizer, primes as the reference
// finds them, odd multipliers and random weights from a seed. With
// zero_value the module adds exactly zero, so the forged model must answer as
// the base model does: an end-to-end identity check of the memory path.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config.h"
#include "core/result.h"

namespace eg::engram {

struct ForgeOptions {
    std::string base_path;
    std::string out_path;
    Form form = Form::V41;
    std::vector<int64_t> layers = {1};
    int64_t max_ngram = 3;
    int64_t heads = 8;
    int64_t key_length = 64;
    uint64_t rows_per_head = 0;   // 0: 5 x compressed vocabulary
    GgmlType type = GgmlType::F16;  // F16 or Q8_0
    uint64_t seed = 0;
    bool zero_value = false;
    int64_t conv_kernel = 4;      // demo form
};

// The reference's prime search: for each layer, each order, each head: the
// next prime above the previous one (starting at rows_per_head - 1), unique
// across heads and layers.
std::vector<uint64_t> find_primes(uint64_t rows_per_head, int64_t n_layers, int64_t max_ngram, int64_t heads);

// Command-line spellings: "v41" | "demo"; "f16" | "q8_0" (case-insensitive).
std::optional<Form> parse_form(std::string_view s);
std::optional<GgmlType> parse_table_type(std::string_view s);

// Streams the table to disk (tables of many GB never sit in memory); the
// output is written to a temporary file and renamed when complete.
Status forge(const ForgeOptions& o);


}  // namespace eg::engram
