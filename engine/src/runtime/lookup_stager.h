// The host half of running a lookup (Engram) module on a device that caches
// its rows (cuda_backend.cpp): for each batch, the rows the positions read
// (from the extension), the device slot of each (RowSlotCache), and the
// bytes of the rows the device lacks (from the extension's DRAM/SSD tiers),
// ready to be copied into their slots. The device part is then: copy the
// staged rows into their slots, gather every row from its slot, compute.
// Kept apart from CUDA so that CI runs it against a host "device".
#pragma once

#include <cstdint>
#include <vector>

#include "core/result.h"
#include "model/extension.h"
#include "runtime/row_cache.h"

namespace eg {

class LookupStager {
public:
    // A cache of `capacity` rows of mod's table (at least one batch's:
    // min(n_rows, n_batch * rows_per_token)).
    LookupStager(const LookupModule& mod, uint32_t capacity, int64_t n_batch);

    const LookupModule& module() const { return mod_; }
    // Most rows one batch can miss: the staging buffers' size in rows.
    uint32_t max_misses() const { return max_misses_; }
    // Slot indices one batch fills: n_batch * rows_per_token.
    size_t max_ids() const { return ids_.size(); }

    // Tells st which rows the device holds, so that prepare() does not fetch
    // them ahead. Once per sequence state.
    void attach(ModelExtension& x, ExtensionState& st) const;

    // Positions pos0 .. pos0+n_tok (prepared): slot_of [n_tok *
    // rows_per_token] the slot of every row read; miss_slot [k] and staged
    // [k * row_bytes] the k rows the device lacks, whose bytes must be
    // written to their slots before any slot is read. Returns k. On failure
    // the cache forgets everything, so no slot is trusted that was never
    // written.
    Result<size_t> stage(ModelExtension& x, ExtensionState& st, int64_t n_tok, int64_t pos0, int32_t* slot_of,
                         int32_t* miss_slot, uint8_t* staged);

    // After a device failure: the slots may not hold what was staged.
    void forget() { cache_.clear(); }

    const RowSlotCache& cache() const { return cache_; }
    uint64_t staged_bytes() const { return staged_bytes_; }  // all batches

private:
    LookupModule mod_;
    RowSlotCache cache_;
    uint32_t max_misses_ = 0;
    std::vector<uint64_t> ids_, want_;
    std::vector<RowSlotCache::Miss> misses_;
    uint64_t staged_bytes_ = 0;
};

}  // namespace eg
