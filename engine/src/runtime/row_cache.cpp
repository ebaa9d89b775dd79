#include "runtime/row_cache.h"

#include <string>

namespace eg {

RowSlotCache::RowSlotCache(uint32_t capacity)
    : row_of_(capacity, 0), prev_(capacity, -1), next_(capacity, -1), stamp_(capacity, 0) {
    map_.reserve(capacity);
    clear();
}

void RowSlotCache::clear() {
    map_.clear();
    free_.clear();
    for (uint32_t s = capacity(); s-- > 0;) free_.push_back((int32_t)s);  // slot 0 first out
    head_ = tail_ = -1;
}

void RowSlotCache::unlink(int32_t s) {
    if (prev_[s] >= 0) next_[prev_[s]] = next_[s];
    else head_ = next_[s];
    if (next_[s] >= 0) prev_[next_[s]] = prev_[s];
    else tail_ = prev_[s];
    prev_[s] = next_[s] = -1;
}

void RowSlotCache::push_front(int32_t s) {
    prev_[s] = -1;
    next_[s] = head_;
    if (head_ >= 0) prev_[head_] = s;
    head_ = s;
    if (tail_ < 0) tail_ = s;
}

Status RowSlotCache::assign(const uint64_t* ids, size_t n, int32_t* slot_of, std::vector<Miss>* misses) {
    misses->clear();
    ++batch_;
    uint64_t hits = 0;
    for (size_t i = 0; i < n; ++i) {
        const uint64_t row = ids[i];
        if (auto it = map_.find(row); it != map_.end()) {
            const int32_t s = it->second;
            if (stamp_[s] != batch_) {
                stamp_[s] = batch_;
                ++hits;
                unlink(s);
                push_front(s);
            }
            slot_of[i] = s;
            continue;
        }
        int32_t s = -1;
        if (!free_.empty()) {
            s = free_.back();
            free_.pop_back();
        } else if (tail_ >= 0 && stamp_[tail_] != batch_) {
            s = tail_;
            unlink(s);
            map_.erase(row_of_[s]);
        }
        if (s < 0) {
            // Every slot holds a row of this batch: undo this batch's new rows,
            // whose bytes will never be written. (Rows they evicted are gone;
            // the map stays true to what the slots will hold.)
            for (const Miss& m : *misses) {
                unlink(m.slot);
                map_.erase(m.row);
                free_.push_back(m.slot);
            }
            misses->clear();
            return Error{"the row cache has " + std::to_string(capacity()) +
                         " slots, fewer than the distinct rows of one batch (at least " + std::to_string(size() + 1) +
                         ")"};
        }
        row_of_[s] = row;
        stamp_[s] = batch_;
        map_.emplace(row, s);
        push_front(s);
        misses->push_back({row, s});
        slot_of[i] = s;
    }
    hits_ += hits;
    misses_ += misses->size();
    return {};
}

}  // namespace eg
