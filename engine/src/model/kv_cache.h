// The KV cache of one sequence: keys and values of every layer in F16,
// allocated once for the whole context.
#pragma once

#include <cstdint>
#include <vector>

namespace eg {

class KvCache {
public:
    KvCache() = default;
    KvCache(int64_t n_layer, int64_t n_ctx, int64_t kv_dim)
        : n_layer_(n_layer), n_ctx_(n_ctx), kv_dim_(kv_dim),
          k_((size_t)(n_layer * n_ctx * kv_dim)), v_((size_t)(n_layer * n_ctx * kv_dim)) {}

    int64_t n_ctx() const { return n_ctx_; }
    int64_t kv_dim() const { return kv_dim_; }
    uint64_t bytes() const { return (k_.size() + v_.size()) * sizeof(uint16_t); }

    // [n_ctx, kv_dim] F16 of one layer
    uint16_t* k(int64_t layer) { return k_.data() + layer * n_ctx_ * kv_dim_; }
    uint16_t* v(int64_t layer) { return v_.data() + layer * n_ctx_ * kv_dim_; }

private:
    int64_t n_layer_ = 0, n_ctx_ = 0, kv_dim_ = 0;
    std::vector<uint16_t> k_, v_;
};

}  // namespace eg
