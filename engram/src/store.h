// The tiered store of Engram tables (and of an untied model's token table):
// rows resident in DRAM under a byte budget, the rest read from the GGUF file
// on demand — with O_DIRECT (or posix_fadvise when the file system refuses
// it), so that the SSD tier is the SSD and not the page cache.
//
// Rows are requested in batches as soon as token ids are known (prefetch);
// I/O threads fill them while the forward runs, and wait() blocks only for
// rows that have not arrived. Which rows stay resident is decided by a
// frequency-aware policy (see tier/policy.h); hot-row counts persist across runs.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "config.h"
#include "model/extension.h"
#include "tier/io_batch.h"
#include "tier/policy.h"

namespace eg::engram {

struct StoreOptions {
    uint64_t dram_budget_bytes = UINT64_MAX;  // resident rows, all tables together
    bool prefetch = true;                     // false: rows are read when the forward needs them
    int io_threads = 4;
    bool direct_io = true;                    // O_DIRECT; else buffered reads + POSIX_FADV_DONTNEED
    tier::IoBackend io_backend = tier::IoBackend::Auto;  // io_uring where it works, else pread (tier/io_batch.h)
    tier::PolicyKind policy = tier::PolicyKind::WTinyLfu;
    std::string hot_stats_path;               // "" = do not persist
    bool preload_resident = true;             // budget >= table: read it all at open
};

// The reads of rows for requests (preload and warm-up excluded), as the I/O
// path did them: what one row read costs in reads, system calls and CPU.
struct StoreIoStats {
    std::string backend;         // "pread" or "io_uring"
    uint64_t rows = 0;           // rows read for requests
    uint64_t reads = 0;          // reads of the file that delivered them (rows sharing pages: one read)
    uint64_t syscalls = 0;       // system calls that issued and completed those reads
    uint64_t bytes = 0;          // bytes those reads delivered
    uint64_t io_cpu_ns = 0;      // CPU time (thread clocks) spent inside the read calls
    uint64_t thread_cpu_ns = 0;  // all CPU time of the threads reading for requests: queue,
                                 // wake-ups, reads, copies, cache admission
    double io_cpu_us_per_row() const { return rows ? (double)io_cpu_ns / 1e3 / (double)rows : 0.0; }
    double thread_cpu_us_per_row() const { return rows ? (double)thread_cpu_ns / 1e3 / (double)rows : 0.0; }
    std::string json() const;    // one line
};

// One request: unique rows of one table, filled by the store.
class FetchBatch {
public:
    int table = 0;
    std::vector<uint64_t> rows;   // unique row ids
    std::vector<uint8_t> data;    // rows.size() * row_bytes, in rows' order
    const uint8_t* row(size_t i, uint64_t row_bytes) const { return data.data() + i * row_bytes; }

private:
    friend class TieredStore;
    struct Impl;
    std::shared_ptr<Impl> impl_;
};

class TieredStore {
public:
    // path: the GGUF file; tables: what to serve (their file offsets).
    static Result<std::unique_ptr<TieredStore>> open(const std::string& path, std::vector<TableInfo> tables,
                                                     StoreOptions opt);
    ~TieredStore();
    TieredStore(const TieredStore&) = delete;
    TieredStore& operator=(const TieredStore&) = delete;

    const std::vector<TableInfo>& tables() const;
    const StoreOptions& options() const;

    // Starts a batch: resident rows are copied at once, the others are read
    // by the I/O threads (prefetch on) or by wait() (prefetch off).
    // A decode step's request allocates nothing: batches are pooled per
    // table and reused once nobody holds them (nor a read of theirs).
    std::shared_ptr<FetchBatch> request(int table, const uint64_t* rows, size_t n);
    std::shared_ptr<FetchBatch> request(int table, std::vector<uint64_t> rows);

    // Blocks until every row of the batch is present. A read error (file
    // truncated, I/O error) is returned with the file, table and row named.
    Status wait(FetchBatch& b);

    // Tiers "dram" (hits: rows served resident; misses: rows that were not;
    // bytes_resident, capacity_bytes) and "ssd" (hits: rows read from the
    // file for requests; bytes_read: what those reads delivered — exactly the
    // rows when buffered, whole 4096-byte blocks around them with O_DIRECT;
    // preload and warm-up reads are not counted). stall_us: time wait()
    // blocked (with prefetch off, the reads themselves); lead_us: over rows
    // that arrived before wait() was called, the sum of (wait - arrival);
    // rows_fetched: rows read for requests; lookups: rows requested.
    ExtensionStats stats() const;
    // The SSD reads for requests, and their CPU cost. When the environment
    // variable ENGRAM_STORE_IO_STATS names a file, the destructor appends
    // them there as one JSON line (scripts/bench-engram.sh reads it).
    StoreIoStats io_stats() const;
    uint64_t resident_bytes() const;     // rows held in DRAM now
    uint64_t capacity_bytes() const;     // the DRAM budget as applied

    // Writes the hot-row counts to options().hot_stats_path (atomically);
    // also done by the destructor.
    Status save_hot_stats() const;

    // Row-access counts of a table, hottest first (for the UI's heat strip).
    std::vector<std::pair<uint64_t, uint32_t>> hottest(int table, size_t n) const;

    // Whether a row is held in DRAM now (no access is recorded).
    bool is_resident(int table, uint64_t row) const;
    // Blocks until the warm-up from saved hot-row stats (started by open()
    // on the I/O threads) has finished.
    void wait_warm() const;
    // True when reads bypass the page cache with O_DIRECT; false when the
    // store fell back to buffered reads (option off, or the file system
    // refused O_DIRECT).
    bool direct_io_active() const;
    // Uring when the reads go out batched through io_uring; Pread when the
    // store reads with pread (option, or io_uring unavailable here).
    tier::IoBackend io_backend() const;
    // Rows of each table that the budget lets stay resident.
    uint64_t capacity_rows(int table) const;

private:
    TieredStore();
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace eg::engram
