// N-gram hashing of Engram (DESIGN.md §4), bit-exact with engram_demo_v1.py's
// NgramHashMapping for the same multipliers, primes and token map.
#pragma once

#include <cstdint>
#include <vector>

#include "config.h"

namespace eg::engram {

class Hasher {
public:
    explicit Hasher(const Config& c) : c_(c) {}

    int32_t compress(int32_t token) const;  // token_map, range-checked by read_config

    // Rows (offset included) of every head of layer index li (into
    // Config::layers) at position t of `compressed` (ids of positions
    // 0..t; earlier positions are pad_id). out: heads_per_layer() values,
    // order-2 heads first.
    void rows_at(int li, const int32_t* compressed, int64_t t, uint64_t* out) const;

    // rows_at for positions [pos0, pos0 + n): out [n][heads_per_layer()].
    void rows(int li, const int32_t* compressed, int64_t pos0, int64_t n, uint64_t* out) const;

private:
    const Config& c_;
};

// Sorted unique values of rows (a batch's gather list); index[i] gives the
// position of rows[i] in the returned vector.
std::vector<uint64_t> dedup_rows(const uint64_t* rows, size_t n, std::vector<uint32_t>* index);
// The same into uniq (its capacity reused: no allocation once it is big enough).
void dedup_rows(const uint64_t* rows, size_t n, std::vector<uint64_t>& uniq, std::vector<uint32_t>* index);

}  // namespace eg::engram
