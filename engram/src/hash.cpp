// N-gram hashing (DESIGN.md §4). The reference computes in NumPy int64:
// products wrap in two's complement, xor works on the bit patterns, and `%`
// by a positive modulus is floor modulo (a result in [0, p) even for a
// negative mix). We multiply and xor in uint64 (the same bits, with defined
// wrapping), read the result as int64 and take the floor modulo.
#include "hash.h"

#include <algorithm>

namespace eg::engram {

int32_t Hasher::compress(int32_t token) const {
    if (token < 0 || (size_t)token >= c_.token_map.size()) return (int32_t)c_.pad_id;
    return c_.token_map[(size_t)token];
}

void Hasher::rows_at(int li, const int32_t* compressed, int64_t t, uint64_t* out) const {
    const int64_t max_n = c_.max_ngram;
    const int64_t hc = c_.head_count;
    const uint64_t* m = c_.multipliers.data() + (size_t)li * (size_t)max_n;
    const size_t base = (size_t)li * (size_t)c_.heads_per_layer();
    const uint64_t* p = c_.primes.data() + base;
    const uint64_t* off = c_.offsets.data() + base;

    // Ids are sign-extended like NumPy's int64 array would hold them.
    auto id_at = [&](int64_t pos) -> uint64_t {
        const int64_t v = pos >= 0 ? (int64_t)compressed[pos] : c_.pad_id;
        return (uint64_t)v;
    };
    uint64_t mix = id_at(t) * m[0];
    for (int64_t n = 2; n <= max_n; ++n) {
        mix ^= id_at(t - (n - 1)) * m[n - 1];
        const int64_t s = (int64_t)mix;
        for (int64_t j = 0; j < hc; ++j) {
            const size_t h = (size_t)((n - 2) * hc + j);
            const int64_t mod = (int64_t)p[h];  // read_config keeps primes <= 2^40
            int64_t r = s % mod;
            if (r < 0) r += mod;
            out[h] = off[h] + (uint64_t)r;
        }
    }
}

void Hasher::rows(int li, const int32_t* compressed, int64_t pos0, int64_t n, uint64_t* out) const {
    const int64_t hpl = c_.heads_per_layer();
    for (int64_t i = 0; i < n; ++i) rows_at(li, compressed, pos0 + i, out + i * hpl);
}

void dedup_rows(const uint64_t* rows, size_t n, std::vector<uint64_t>& u, std::vector<uint32_t>* index) {
    u.assign(rows, rows + n);
    std::sort(u.begin(), u.end());
    u.erase(std::unique(u.begin(), u.end()), u.end());
    if (index) {
        index->resize(n);
        for (size_t i = 0; i < n; ++i)
            (*index)[i] = (uint32_t)(std::lower_bound(u.begin(), u.end(), rows[i]) - u.begin());
    }
}

std::vector<uint64_t> dedup_rows(const uint64_t* rows, size_t n, std::vector<uint32_t>* index) {
    std::vector<uint64_t> u;
    dedup_rows(rows, n, u, index);
    return u;
}

}  // namespace eg::engram
