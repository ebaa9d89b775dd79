// The hot-row statistics file of the tiered store: per table, the access
// counts of its most-used rows, so that a restart can seed the policy and
// warm DRAM before the first request.
//
// Layout (little-endian):
//   "EGHOTROW" | u32 version (1) | u32 n_tables
//   per table: u32 name_bytes | name | u64 n_rows | u64 row_bytes | u64 n_entries
//              | n_entries x (u64 row, u32 count), hottest first
//   u64 FNV-1a of everything above
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "config.h"
#include "core/result.h"

namespace eg::engram {

struct HotTable {
    std::string tensor;
    uint64_t n_rows = 0;
    uint64_t row_bytes = 0;
    std::vector<std::pair<uint64_t, uint32_t>> rows;  // (row, count), hottest first
};

// Writes path + ".tmp" and renames it over path (creating the directory).
Status write_hot_stats(const std::string& path, const std::vector<HotTable>& tables);

// Reads and checks a stats file against the tables being served: a bad
// magic, version, checksum, size, table name, row count or row index is an
// error (the caller ignores the file with a warning).
Result<std::vector<HotTable>> read_hot_stats(const std::string& path, const std::vector<TableInfo>& expect);

}  // namespace eg::engram
