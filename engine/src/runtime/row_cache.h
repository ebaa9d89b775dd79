// The host side of a device row cache: which rows of one table a device (a
// GPU's VRAM) holds in a fixed number of slots. Kept on the host so that a
// batch's slots are known before any kernel runs: the backend uploads the
// missed rows on its copy stream and its gather kernel reads slots only.
//
// Least recently used out, with one rule on top: every distinct row of a
// batch gets a slot, and no row of a batch evicts another row of the same
// batch, so the cache needs at least as many slots as a batch reads rows.
#pragma once

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "core/result.h"

namespace eg {

class RowSlotCache {
public:
    explicit RowSlotCache(uint32_t capacity);

    struct Miss {
        uint64_t row = 0;
        int32_t slot = 0;
    };

    // slot_of[i] = the slot that holds (or is to hold) row ids[i]. Rows not
    // held are given a slot and listed once each in *misses (cleared first):
    // the caller writes their bytes there before reading the slots. Fails
    // when the batch reads more distinct rows than there are slots; the
    // rows it added are dropped again (rows they evicted stay evicted), so
    // what the cache says it holds stays true.
    Status assign(const uint64_t* ids, size_t n, int32_t* slot_of, std::vector<Miss>* misses);

    // Forgets every row (e.g. when the device copy is lost).
    void clear();

    bool holds(uint64_t row) const { return map_.count(row) != 0; }
    uint32_t capacity() const { return (uint32_t)row_of_.size(); }
    uint32_t size() const { return (uint32_t)map_.size(); }
    // Distinct rows per batch found held / not held, since construction.
    uint64_t hits() const { return hits_; }
    uint64_t misses() const { return misses_; }

private:
    void unlink(int32_t s);
    void push_front(int32_t s);

    std::unordered_map<uint64_t, int32_t> map_;
    std::vector<uint64_t> row_of_;
    std::vector<int32_t> prev_, next_;  // LRU list over held slots; -1 ends
    std::vector<uint64_t> stamp_;       // batch that last used the slot
    std::vector<int32_t> free_;
    int32_t head_ = -1, tail_ = -1;     // most / least recently used
    uint64_t batch_ = 0;
    uint64_t hits_ = 0, misses_ = 0;
};

}  // namespace eg
