#include "runtime/lookup_stager.h"

#include <algorithm>
#include <string>

namespace eg {

namespace {

uint32_t batch_rows(const LookupModule& mod, int64_t n_batch) {
    return (uint32_t)std::min<uint64_t>(mod.n_rows, (uint64_t)std::max<int64_t>(n_batch, 1) * mod.rows_per_token);
}

}  // namespace

LookupStager::LookupStager(const LookupModule& mod, uint32_t capacity, int64_t n_batch)
    : mod_(mod), cache_(std::max(capacity, batch_rows(mod, n_batch))), max_misses_(batch_rows(mod, n_batch)) {
    ids_.resize((size_t)(std::max<int64_t>(n_batch, 1) * mod.rows_per_token));
}

void LookupStager::attach(ModelExtension& x, ExtensionState& st) const {
    const RowSlotCache* c = &cache_;
    x.set_device_rows(st, mod_.layer, [c](uint64_t row) { return c->holds(row); });
}

Result<size_t> LookupStager::stage(ModelExtension& x, ExtensionState& st, int64_t n_tok, int64_t pos0,
                                   int32_t* slot_of, int32_t* miss_slot, uint8_t* staged) {
    const size_t n = (size_t)(n_tok * mod_.rows_per_token);
    const std::string what = "Engram rows of blk." + std::to_string(mod_.layer);
    if (n_tok <= 0 || n > ids_.size())
        return Error{what + ": a batch of " + std::to_string(n_tok) + " positions exceeds the staging for " +
                     std::to_string(ids_.size() / (size_t)mod_.rows_per_token)};
    if (auto s = x.lookup_rows(st, mod_.layer, n_tok, pos0, ids_.data()); !s) return s.error();
    if (auto s = cache_.assign(ids_.data(), n, slot_of, &misses_); !s) return Error{what + ": " + s.message()};
    want_.clear();
    for (size_t i = 0; i < misses_.size(); ++i) {
        want_.push_back(misses_[i].row);
        miss_slot[i] = misses_[i].slot;
    }
    if (auto s = x.read_rows(st, mod_.layer, n_tok, pos0, want_.data(), want_.size(), staged); !s) {
        cache_.clear();  // the slots name rows that will not be written
        return s.error();
    }
    staged_bytes_ += misses_.size() * mod_.row_bytes;
    return misses_.size();
}

}  // namespace eg
