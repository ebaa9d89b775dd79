// A small open-addressing hash map from 64-bit keys to a small value (slot
// index, access count), for the policy and the store: linear probing,
// backward-shift deletion, no tombstones. One key, one value and one byte
// per bucket at most 70% full, so tens of millions of entries stay cheap,
// unlike node-based maps with a pointer per entry.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace eg::tier {

// splitmix64's finaliser: spreads row ids (often small, sequential) over the
// table.
inline uint64_t mix64(uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

template <class V>
class FlatMap {
public:
    explicit FlatMap(size_t expected = 0) { reserve(expected); }

    void reserve(size_t n) {
        size_t want = 16;
        while (want * 7 / 10 < n) want <<= 1;
        if (want > keys_.size()) rehash(want);
    }
    size_t size() const { return size_; }

    V* find(uint64_t k) {
        const size_t i = index_of(k);
        return i == npos ? nullptr : &vals_[i];
    }
    const V* find(uint64_t k) const {
        const size_t i = index_of(k);
        return i == npos ? nullptr : &vals_[i];
    }

    // Inserts k -> v unless k is present; returns the value slot and whether
    // it was inserted.
    std::pair<V*, bool> insert(uint64_t k, V v) {
        if ((size_ + 1) * 10 > keys_.size() * 7) rehash(keys_.size() * 2);
        const size_t m = keys_.size() - 1;
        for (size_t i = mix64(k) & m;; i = (i + 1) & m) {
            if (!used_[i]) {
                used_[i] = 1;
                keys_[i] = k;
                vals_[i] = v;
                ++size_;
                return {&vals_[i], true};
            }
            if (keys_[i] == k) return {&vals_[i], false};
        }
    }

    bool erase(uint64_t k) {
        size_t i = index_of(k);
        if (i == npos) return false;
        const size_t m = keys_.size() - 1;
        used_[i] = 0;
        --size_;
        // Pull later entries of the probe run back into the hole when their
        // home bucket is not between the hole and where they sit.
        for (size_t j = (i + 1) & m; used_[j]; j = (j + 1) & m) {
            const size_t home = mix64(keys_[j]) & m;
            if (((j - home) & m) >= ((j - i) & m)) {
                keys_[i] = keys_[j];
                vals_[i] = vals_[j];
                used_[i] = 1;
                used_[j] = 0;
                i = j;
            }
        }
        return true;
    }

    void clear() {
        std::fill(used_.begin(), used_.end(), uint8_t(0));
        size_ = 0;
    }

    template <class F>
    void for_each(F&& f) const {
        for (size_t i = 0; i < keys_.size(); ++i)
            if (used_[i]) f(keys_[i], vals_[i]);
    }

private:
    static constexpr size_t npos = SIZE_MAX;

    size_t index_of(uint64_t k) const {
        if (size_ == 0) return npos;
        const size_t m = keys_.size() - 1;
        for (size_t i = mix64(k) & m;; i = (i + 1) & m) {
            if (!used_[i]) return npos;
            if (keys_[i] == k) return i;
        }
    }

    void rehash(size_t n_buckets) {
        std::vector<uint64_t> keys(n_buckets);
        std::vector<V> vals(n_buckets);
        std::vector<uint8_t> used(n_buckets, 0);
        const size_t m = n_buckets - 1;
        for (size_t i = 0; i < keys_.size(); ++i) {
            if (!used_[i]) continue;
            size_t j = mix64(keys_[i]) & m;
            while (used[j]) j = (j + 1) & m;
            used[j] = 1;
            keys[j] = keys_[i];
            vals[j] = vals_[i];
        }
        keys_.swap(keys);
        vals_.swap(vals);
        used_.swap(used);
    }

    std::vector<uint64_t> keys_;
    std::vector<V> vals_;
    std::vector<uint8_t> used_;
    size_t size_ = 0;
};

}  // namespace eg::tier
