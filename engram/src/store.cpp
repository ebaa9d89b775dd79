// The tiered store: a resident slab per table (rows at the policy's slots,
// or the whole table when the budget covers it), batched reads on I/O
// threads for the rest (tier/io_batch.h: a request's misses go out together
// through the thread's io_uring, rows sharing or adjoining 4 KiB blocks as
// one read; pread where io_uring is unavailable). Reads use O_DIRECT, so a
// miss really goes to the SSD; where the file system refuses O_DIRECT the
// store reads buffered and drops what it read from the page cache.
#include "store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <system_error>
#include <thread>

#include "core/log.h"
#include "hot_stats.h"
#include "tier/flat_map.h"

namespace eg::engram {

namespace {

constexpr uint64_t kAlign = 4096;                   // O_DIRECT offset, size and buffer alignment
constexpr uint64_t kMaxCoalesceBytes = 1ULL << 20;  // one read covers rows up to this span
constexpr unsigned kQueueDepth = 64;                // reads in flight per I/O thread (io_uring)
// A request's misses go to one I/O thread in slices of this many rows with
// io_uring (one submission each); with pread they are spread over the threads.
constexpr size_t kUringSliceRows = 256;
constexpr size_t kWarmSliceRows = 4096;             // warm-up rows per job
constexpr uint64_t kPreloadReadBytes = 8ULL << 20;  // sequential reads of a fully resident table
// Warm-up reads: hot rows closer than this join one read (a random 4 KiB
// read costs about as much as reading 64 KiB more sequentially), up to 4 MiB.
constexpr uint64_t kWarmGapBytes = 64ULL << 10;
constexpr uint64_t kWarmReadBytes = 4ULL << 20;
constexpr uint64_t kSlabChunkBytes = 4ULL << 20;    // the slab grows by chunks of this size
constexpr uint64_t kMinHotRows = 65536;             // hot-row counts kept per table, at least
constexpr uint64_t kMaxHotRows = 1ULL << 22;        // and at most
constexpr size_t kPoolBatches = 16;                  // idle batches a table keeps for reuse
constexpr size_t kPoolKeepBytes = 256 << 10;         // a reused batch keeps this much of a bigger buffer

using Clock = std::chrono::steady_clock;

int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

// CPU time of the calling thread.
uint64_t thread_cpu_ns() {
    timespec ts{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

std::string errno_text(int e) { return std::error_code(e, std::generic_category()).message(); }

uint64_t align_down(uint64_t x) { return x & ~(kAlign - 1); }
uint64_t align_up(uint64_t x) { return (x + kAlign - 1) & ~(kAlign - 1); }

// Whether a row's read joins the previous (sorted) row's: they share or
// adjoin 4096-byte blocks (direct) or bytes (buffered), as BatchReader joins
// requests; slices of a request are never cut between them.
bool joins(const TableInfo& t, bool direct, uint64_t prev_row, uint64_t row) {
    const uint64_t prev_end = t.file_offset + (prev_row + 1) * t.row_bytes;
    const uint64_t off = t.file_offset + row * t.row_bytes;
    return direct ? align_down(off) <= align_up(prev_end) : off <= prev_end;
}

// Cuts sorted rows into slices [first, first + count) of about per_slice
// rows, never between rows that one read joins.
template <class F>
void slice_rows(const TableInfo& t, bool direct, const std::vector<uint64_t>& rows, size_t per_slice, F&& emit) {
    for (size_t start = 0; start < rows.size();) {
        size_t end = std::min(rows.size(), start + std::max<size_t>(1, per_slice));
        while (end < rows.size() && joins(t, direct, rows[end - 1], rows[end])) ++end;
        emit((uint32_t)start, (uint32_t)(end - start));
        start = end;
    }
}

}  // namespace

struct FetchBatch::Impl {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<uint32_t> missing;     // positions in rows not resident at request, sorted by row
    std::vector<uint64_t> miss_rows;   // rows[missing[k]]
    std::vector<int64_t> arrived_ns;   // per miss, when its read completed
    size_t pending = 0;                // misses not arrived yet
    std::string error;                 // the first failure
    bool sync_read = false;            // prefetch off: wait() reads
    bool waited = false;

    // For the next request (a pooled batch): empty, its vectors' capacity kept.
    void reset() {
        missing.clear();
        miss_rows.clear();
        arrived_ns.clear();
        pending = 0;
        error.clear();
        sync_read = false;
        waited = false;
    }
};

namespace {

// One table's DRAM tier.
struct TableState {
    TableInfo info;
    uint64_t capacity_rows = 0;
    bool full = false;                   // preloaded: slot = row, no policy
    std::unique_ptr<tier::CachePolicy> policy;
    uint64_t chunk_rows = 1;
    std::vector<std::unique_ptr<uint8_t[]>> chunks;  // [capacity_rows / chunk_rows] x [chunk_rows * row_bytes]
    tier::FlatMap<uint32_t> counts;      // row -> accesses (the hottest kept)
    uint64_t keep_counts = 0;
    std::vector<std::pair<uint64_t, uint32_t>> prune_scratch;  // prune()'s, kept between prunes
    // Every batch of this table, reused once no caller holds it and no read
    // of it is pending, so that a decode step's request allocates nothing
    // (under the store's mu).
    std::vector<std::shared_ptr<FetchBatch>> pool;

    // The slab's chunks, all at open: left uninitialised, a chunk takes
    // memory only as rows are written into it, and filling the cache on the
    // decode path allocates nothing.
    void allocate_slab() {
        chunks.resize((capacity_rows + chunk_rows - 1) / chunk_rows);
        for (uint64_t c = 0; c < chunks.size(); ++c) {
            const uint64_t rows = std::min(chunk_rows, capacity_rows - c * chunk_rows);
            chunks[c].reset(new uint8_t[rows * info.row_bytes]);
        }
    }
    // Where slot s keeps its row (every chunk exists from open on).
    uint8_t* slot_ptr(uint64_t s) const { return chunks[s / chunk_rows].get() + (s % chunk_rows) * info.row_bytes; }
    uint64_t resident_rows() const { return full ? info.n_rows : (policy ? policy->size() : 0); }

    void count(uint64_t row) {
        auto [c, inserted] = counts.insert(row, 1);
        if (!inserted && *c < UINT32_MAX) ++*c;
        if (counts.size() > 2 * keep_counts) prune();
    }
    // Keeps the keep_counts hottest rows. The map keeps its buckets and the
    // scratch its capacity: after the first prune, counting allocates nothing.
    void prune() {
        top_into(keep_counts, prune_scratch);
        counts.clear();
        for (const auto& [row, n] : prune_scratch) counts.insert(row, n);
    }
    void top_into(size_t n, std::vector<std::pair<uint64_t, uint32_t>>& all) const {
        all.clear();
        all.reserve(counts.size());
        counts.for_each([&](uint64_t row, uint32_t c) { all.emplace_back(row, c); });
        auto hotter = [](const auto& a, const auto& b) {
            return a.second != b.second ? a.second > b.second : a.first < b.first;
        };
        if (all.size() > n) {
            std::nth_element(all.begin(), all.begin() + (ptrdiff_t)n, all.end(), hotter);
            all.resize(n);
        }
        std::sort(all.begin(), all.end(), hotter);
    }
    std::vector<std::pair<uint64_t, uint32_t>> top(size_t n) const {
        std::vector<std::pair<uint64_t, uint32_t>> all;
        top_into(n, all);
        return all;
    }
};

// Work for an I/O thread: a slice [first, first + count) of a batch's
// sorted misses, or of warm-up rows, read with one BatchReader call.
struct Job {
    // null: warm-up. The table's pool keeps the batch alive (and does not
    // reuse it) while reads of it are pending.
    FetchBatch* batch = nullptr;
    int table = 0;
    uint32_t first = 0, count = 0;
    std::shared_ptr<std::vector<uint64_t>> warm_rows;
};

// What a thread reads with: its reader (its own io_uring, or pread) and
// scratch kept between jobs, so that a decode step's reads allocate nothing.
struct ReadContext {
    tier::BatchReader reader;
    std::vector<tier::ReadRequest> requests;
    std::vector<uint8_t> rows;  // warm-up rows, before the policy takes them
    explicit ReadContext(std::shared_ptr<const tier::IoFile> f) : reader(std::move(f), kQueueDepth) {}
};

// The I/O threads' queue: a ring that grows only when full (a deque would
// allocate a block every few hundred pushes, decode steps included).
class JobRing {
public:
    bool empty() const { return n_ == 0; }
    void push(Job j) {
        if (n_ == buf_.size()) grow();
        buf_[(head_ + n_) % buf_.size()] = std::move(j);
        ++n_;
    }
    Job pop() {
        Job j = std::move(buf_[head_]);
        buf_[head_] = Job{};
        head_ = (head_ + 1) % buf_.size();
        --n_;
        return j;
    }

private:
    void grow() {
        std::vector<Job> b(std::max<size_t>(64, buf_.size() * 2));
        for (size_t i = 0; i < n_; ++i) b[i] = std::move(buf_[(head_ + i) % buf_.size()]);
        buf_.swap(b);
        head_ = 0;
    }
    std::vector<Job> buf_;
    size_t head_ = 0, n_ = 0;
};

}  // namespace

struct TieredStore::Impl {
    std::string path;
    std::shared_ptr<tier::IoFile> file;
    bool direct = false;  // O_DIRECT in effect
    bool uring = false;   // reads through io_uring
    StoreOptions opt;
    std::vector<TableInfo> infos;
    std::vector<std::unique_ptr<TableState>> tables;

    mutable std::mutex mu;  // tables' slabs, policies, counts and the figures below
    uint64_t dram_hits = 0, dram_misses = 0, ssd_rows = 0, ssd_bytes = 0, lookups = 0, rows_fetched = 0;
    uint64_t stall_ns = 0, lead_ns = 0;
    StoreIoStats io;  // reads for requests

    std::mutex qmu;
    std::condition_variable qcv;
    mutable std::condition_variable warm_cv;
    JobRing queue;
    uint64_t warm_pending = 0;
    bool stop = false;
    std::vector<std::thread> workers;
    std::vector<std::unique_ptr<ReadContext>> worker_ctx;  // one per worker
    bool opened = false;  // open() succeeded: the destructor saves hot-row stats
    // Readers of wait() when prefetch is off (the caller's thread reads).
    std::mutex ctx_mu;
    std::vector<std::unique_ptr<ReadContext>> idle_ctx;

    std::string where(const TableInfo& t, uint64_t row, uint64_t off) const {
        return path + ": table " + t.tensor + " row " + std::to_string(row) + " at byte " + std::to_string(off);
    }

    // Reads ctx.requests (rows of t) with ctx's reader; *delta: what the
    // reader did. A failure names the file, the table and the row.
    Status read_requests(ReadContext& ctx, const TableInfo& t, const tier::MergeOptions& m,
                         tier::IoCounters* delta) const {
        const tier::IoCounters c0 = ctx.reader.counters();
        tier::ReadFailure fail;
        Status st = ctx.reader.read(ctx.requests, m, &fail);
        const tier::IoCounters& c1 = ctx.reader.counters();
        *delta = tier::IoCounters{c1.requests - c0.requests, c1.reads - c0.reads, c1.syscalls - c0.syscalls,
                            c1.bytes - c0.bytes, c1.cpu_ns - c0.cpu_ns};
        if (st.ok()) return st;
        if (fail.request >= ctx.requests.size()) return st;
        const uint64_t off = ctx.requests[fail.request].offset;
        return make_error(where(t, (off - t.file_offset) / t.row_bytes, off) + ": " + fail.reason);
    }

    // After a read: the policy decides whether the row stays (under mu).
    void offer(TableState& t, uint64_t row, const uint8_t* src) {
        if (t.full || !t.policy || t.capacity_rows == 0 || t.policy->contains(row)) return;
        std::optional<uint64_t> evicted;
        if (!t.policy->admit(row, &evicted)) return;
        const int64_t slot = t.policy->slot_of(row);
        if (slot < 0) return;
        std::memcpy(t.slot_ptr((uint64_t)slot), src, t.info.row_bytes);
    }

    // Reads misses [first, first + count) of a batch straight into the
    // batch (one BatchReader call: rows sharing blocks are one read, the
    // reads go out together), offers the rows to the policy and marks them
    // arrived.
    void fetch_slice(FetchBatch& b, uint32_t first, uint32_t count, ReadContext& ctx) {
        FetchBatch::Impl& bi = *b.impl_;
        TableState& t = *tables[b.table];
        const uint64_t rb = t.info.row_bytes;
        ctx.requests.clear();
        for (uint32_t k = first; k < first + count; ++k)
            ctx.requests.push_back(tier::ReadRequest{t.info.file_offset + bi.miss_rows[k] * rb, rb,
                                               b.data.data() + (size_t)bi.missing[k] * rb});
        tier::IoCounters d;
        Status st = read_requests(ctx, t.info, tier::MergeOptions{0, kMaxCoalesceBytes}, &d);
        {
            std::lock_guard lk(mu);
            io.reads += d.reads;
            io.syscalls += d.syscalls;
            io.io_cpu_ns += d.cpu_ns;
            if (st.ok()) {
                io.rows += count;
                io.bytes += d.bytes;
                ssd_rows += count;
                ssd_bytes += d.bytes;
                rows_fetched += count;
                for (uint32_t k = first; k < first + count; ++k)
                    offer(t, bi.miss_rows[k], b.data.data() + (size_t)bi.missing[k] * rb);
            }
        }
        const int64_t t_arrived = now_ns();
        std::lock_guard lk(bi.mu);
        for (uint32_t k = first; k < first + count; ++k) bi.arrived_ns[k] = t_arrived;
        if (!st.ok() && bi.error.empty()) bi.error = st.message();
        bi.pending -= count;
        if (bi.pending == 0) bi.cv.notify_all();
    }

    // Warm-up: reads rows [first, first + count) of the saved stats' hot
    // rows (close ones joined into one read) and offers them to the policy.
    void warm_slice(int table, const std::vector<uint64_t>& rows, uint32_t first, uint32_t count, ReadContext& ctx) {
        TableState& t = *tables[table];
        const uint64_t rb = t.info.row_bytes;
        ctx.rows.resize((size_t)count * rb);
        ctx.requests.clear();
        for (uint32_t k = 0; k < count; ++k)
            ctx.requests.push_back(
                tier::ReadRequest{t.info.file_offset + rows[first + k] * rb, rb, ctx.rows.data() + (size_t)k * rb});
        tier::IoCounters d;
        Status st = read_requests(ctx, t.info, tier::MergeOptions{kWarmGapBytes, kWarmReadBytes}, &d);
        if (!st.ok()) {
            EG_LOG_WARN("hot-row warm-up: {}", st.message());
            return;
        }
        std::lock_guard lk(mu);
        for (uint32_t k = 0; k < count; ++k) offer(t, rows[first + k], ctx.rows.data() + (size_t)k * rb);
    }

    // A reader for wait()'s own reads (prefetch off), and back.
    std::unique_ptr<ReadContext> take_context() {
        {
            std::lock_guard lk(ctx_mu);
            if (!idle_ctx.empty()) {
                auto c = std::move(idle_ctx.back());
                idle_ctx.pop_back();
                return c;
            }
        }
        return std::make_unique<ReadContext>(file);
    }
    void give_context(std::unique_ptr<ReadContext> c) {
        std::lock_guard lk(ctx_mu);
        idle_ctx.push_back(std::move(c));
    }

    // ctx: made by open() (a thread that starts late allocates nothing).
    void worker(ReadContext& ctx) {
        uint64_t cpu_last = thread_cpu_ns();
        for (;;) {
            Job job;
            {
                std::unique_lock lk(qmu);
                qcv.wait(lk, [&] { return stop || !queue.empty(); });
                if (queue.empty()) return;
                job = queue.pop();
            }
            if (job.batch) {
                fetch_slice(*job.batch, job.first, job.count, ctx);
                // This job's CPU, the wait that woke for it included.
                const uint64_t cpu = thread_cpu_ns();
                std::lock_guard lk(mu);
                io.thread_cpu_ns += cpu - cpu_last;
                cpu_last = cpu;
            } else {
                bool stopping;
                {
                    std::lock_guard lk(qmu);
                    stopping = stop;
                }
                if (!stopping) warm_slice(job.table, *job.warm_rows, job.first, job.count, ctx);
                std::lock_guard lk(qmu);
                if (--warm_pending == 0) warm_cv.notify_all();
                cpu_last = thread_cpu_ns();
            }
        }
    }

    void enqueue(std::vector<Job> jobs) {
        {
            std::lock_guard lk(qmu);
            for (auto& j : jobs) {
                if (!j.batch) ++warm_pending;
                queue.push(std::move(j));
            }
        }
        qcv.notify_all();
    }

    // Reads a fully resident table into its slab: big sequential reads,
    // several in flight (one per I/O thread) so that an SSD's queue is used.
    Status preload(TableState& t) {
        const uint64_t total = t.info.n_rows * t.info.row_bytes;
        const uint64_t chunk_bytes = t.chunk_rows * t.info.row_bytes;
        const uint64_t n_pieces = (total + kPreloadReadBytes - 1) / kPreloadReadBytes;
        std::atomic<uint64_t> next{0};
        std::mutex err_mu;
        std::string error;
        auto reader = [&] {
            ReadContext ctx(file);
            for (uint64_t i = next++; i < n_pieces; i = next++) {
                const uint64_t pos = i * kPreloadReadBytes;
                const uint64_t len = std::min(kPreloadReadBytes, total - pos);
                // The slab of a full table is the table's bytes, cut into
                // chunks: one request per chunk the piece touches.
                ctx.requests.clear();
                for (uint64_t done = 0; done < len;) {
                    const uint64_t p = pos + done;
                    const uint64_t in_chunk = std::min(len - done, chunk_bytes - p % chunk_bytes);
                    ctx.requests.push_back(tier::ReadRequest{t.info.file_offset + p, in_chunk,
                                                             t.chunks[p / chunk_bytes].get() + p % chunk_bytes});
                    done += in_chunk;
                }
                tier::IoCounters d;
                Status st = read_requests(ctx, t.info, tier::MergeOptions{0, kMaxCoalesceBytes}, &d);
                if (!st.ok()) {
                    std::lock_guard lk(err_mu);
                    if (error.empty()) error = st.message();
                    next = n_pieces;
                    return;
                }
            }
        };
        const uint64_t n_threads = std::min<uint64_t>((uint64_t)std::clamp(opt.io_threads, 1, 16), n_pieces);
        std::vector<std::thread> threads;
        for (uint64_t i = 1; i < n_threads; ++i) threads.emplace_back(reader);
        reader();
        for (auto& th : threads) th.join();
        if (!error.empty()) return make_error(error);
        return {};
    }

    // Seeds policies and counts from saved stats and queues the warm-up.
    void load_hot_stats() {
        if (opt.hot_stats_path.empty() || ::access(opt.hot_stats_path.c_str(), F_OK) != 0) return;
        auto hot = read_hot_stats(opt.hot_stats_path, infos);
        if (!hot.ok()) {
            EG_LOG_WARN("ignoring hot-row stats: {}", hot.message());
            return;
        }
        std::vector<Job> jobs;
        uint64_t n_warm = 0;
        for (size_t i = 0; i < tables.size(); ++i) {
            TableState& t = *tables[i];
            const auto& rows = hot.value()[i].rows;
            for (const auto& [row, n] : rows) {
                t.counts.insert(row, n);
                if (t.policy) t.policy->seed(row, n);
            }
            if (t.full || t.capacity_rows == 0) continue;
            auto warm = std::make_shared<std::vector<uint64_t>>();
            for (size_t k = 0; k < rows.size() && warm->size() < t.capacity_rows; ++k) warm->push_back(rows[k].first);
            std::sort(warm->begin(), warm->end());
            n_warm += warm->size();
            slice_rows(t.info, direct, *warm, kWarmSliceRows,
                       [&](uint32_t first, uint32_t count) { jobs.push_back(Job{nullptr, (int)i, first, count, warm}); });
        }
        EG_LOG_INFO("{}: hot-row stats from {}: warming {} rows in the background", path, opt.hot_stats_path,
                    n_warm);
        enqueue(std::move(jobs));
    }

    // A batch for a request of n rows of t: an idle pooled one, or a new one
    // added to the pool. Idle ones past kPoolBatches are dropped, and idle
    // ones that grew for a long prompt give their buffer back. Under mu.
    std::shared_ptr<FetchBatch> take_batch(TableState& t, size_t n);

    std::vector<HotTable> hot_tables() const {
        std::vector<HotTable> out;
        std::lock_guard lk(mu);
        for (const auto& t : tables)
            out.push_back(HotTable{t->info.tensor, t->info.n_rows, t->info.row_bytes, t->top(t->keep_counts)});
        return out;
    }
};

TieredStore::TieredStore() : impl_(std::make_unique<Impl>()) {}

TieredStore::~TieredStore() {
    {
        std::lock_guard lk(impl_->qmu);
        impl_->stop = true;
    }
    impl_->qcv.notify_all();
    // Workers finish the queued reads (their batches complete or fail) and skip warm-ups.
    for (auto& w : impl_->workers) w.join();
    if (impl_->opened)
        if (const char* f = std::getenv("ENGRAM_STORE_IO_STATS"); f && *f) {
            if (FILE* out = std::fopen(f, "a")) {
                std::fprintf(out, "%s\n", io_stats().json().c_str());
                std::fclose(out);
            } else {
                EG_LOG_WARN("ENGRAM_STORE_IO_STATS: cannot append to {}: {}", f, errno_text(errno));
            }
        }
    if (impl_->opened && !impl_->opt.hot_stats_path.empty()) {
        Status st = save_hot_stats();
        if (!st.ok()) EG_LOG_WARN("{}", st.message());
    }
}

Result<std::unique_ptr<TieredStore>> TieredStore::open(const std::string& path, std::vector<TableInfo> tables,
                                                       StoreOptions opt) {
    std::unique_ptr<TieredStore> s(new TieredStore());
    Impl& im = *s->impl_;
    im.path = path;
    im.opt = opt;

    for (const auto& t : tables) {
        if (t.row_bytes == 0 || t.n_rows == 0)
            return make_error(path + ": table " + t.tensor + " has " + std::to_string(t.n_rows) + " rows of " +
                              std::to_string(t.row_bytes) + " bytes");
        if (t.n_rows > UINT64_MAX / t.row_bytes || t.file_offset > UINT64_MAX - t.n_rows * t.row_bytes)
            return make_error(path + ": table " + t.tensor + ": byte range overflows");
    }

    auto file = tier::IoFile::open(path, tier::IoFileOptions{opt.direct_io, opt.io_backend});
    if (!file.ok()) return file.error();
    im.file = std::move(file.value());
    im.direct = im.file->direct();
    im.uring = im.file->backend() == tier::IoBackend::Uring;
    const uint64_t file_size = im.file->size_at_open();
    for (const auto& t : tables) {
        const uint64_t end = t.file_offset + t.n_rows * t.row_bytes;
        if (end > file_size)
            return make_error(path + ": table " + t.tensor + " spans bytes " + std::to_string(t.file_offset) + ".." +
                              std::to_string(end) + " but the file has " + std::to_string(file_size) +
                              " bytes (truncated file?)");
    }
    EG_LOG_INFO("{}: tiered store reads {}, {}", path, im.direct ? "with O_DIRECT" : "buffered (posix_fadvise)",
                im.uring ? "batched through io_uring" : "with pread");

    // The DRAM budget, split over the tables in proportion to their size.
    uint64_t total_bytes = 0;
    for (const auto& t : tables) total_bytes += t.n_rows * t.row_bytes;
    for (const auto& info : tables) {
        auto t = std::make_unique<TableState>();
        t->info = info;
        const uint64_t bytes = info.n_rows * info.row_bytes;
        uint64_t share = bytes;
        if (opt.dram_budget_bytes < total_bytes)
            share = (uint64_t)((unsigned __int128)opt.dram_budget_bytes * bytes / total_bytes);
        t->capacity_rows = std::min<uint64_t>(info.n_rows, share / info.row_bytes);
        t->full = opt.preload_resident && t->capacity_rows == info.n_rows;
        // Policy slots are 32-bit; a partly resident table of 4G rows is far past any DRAM.
        if (!t->full) t->capacity_rows = std::min<uint64_t>(t->capacity_rows, UINT32_MAX - 1);
        t->chunk_rows = std::max<uint64_t>(1, kSlabChunkBytes / info.row_bytes);
        t->allocate_slab();
        // A cache as large as its table never evicts: plain LRU, no sketch.
        if (!t->full)
            t->policy = tier::make_policy(t->capacity_rows == info.n_rows ? tier::PolicyKind::Lru : opt.policy,
                                          t->capacity_rows);
        t->keep_counts = std::clamp<uint64_t>(t->capacity_rows, kMinHotRows, kMaxHotRows);
        // The counts grow to 2 * keep_counts before a prune: room for that at
        // once (what they reach anyway), so that counting allocates nothing.
        const uint64_t max_counts = std::min<uint64_t>(info.n_rows, 2 * t->keep_counts + 1);
        t->counts.reserve(max_counts);
        if (max_counts > t->keep_counts * 2) t->prune_scratch.reserve(max_counts);
        im.tables.push_back(std::move(t));
    }
    im.infos = std::move(tables);

    for (auto& t : im.tables) {
        if (!t->full) continue;
        const auto t0 = Clock::now();
        Status st = im.preload(*t);
        if (!st.ok()) return st.error();
        const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
        const double mb = (double)(t->info.n_rows * t->info.row_bytes) / 1e6;
        EG_LOG_INFO("{}: {} resident: {:.1f} MB read in {:.2f} s ({:.0f} MB/s)", path, t->info.tensor, mb, secs,
                    secs > 0 ? mb / secs : 0.0);
    }

    const int n_threads = std::clamp(opt.io_threads, 1, 64);
    for (int i = 0; i < n_threads; ++i) im.worker_ctx.push_back(std::make_unique<ReadContext>(im.file));
    for (int i = 0; i < n_threads; ++i) {
        ReadContext* ctx = im.worker_ctx[(size_t)i].get();
        im.workers.emplace_back([&im, ctx] { im.worker(*ctx); });
    }
    im.load_hot_stats();
    im.opened = true;
    return s;
}

const std::vector<TableInfo>& TieredStore::tables() const { return impl_->infos; }
const StoreOptions& TieredStore::options() const { return impl_->opt; }

std::shared_ptr<FetchBatch> TieredStore::Impl::take_batch(TableState& t, size_t n) {
    // Idle: no caller holds it (the pool's is the only reference) and no I/O
    // thread will write it (its reads are done, or it never queued any:
    // prefetch off and never waited). Both are read under the batch's mutex,
    // which its last read released.
    auto idle = [](const std::shared_ptr<FetchBatch>& b) {
        if (b.use_count() != 1) return false;
        std::lock_guard lk(b->impl_->mu);
        return b->impl_->pending == 0 || b->impl_->sync_read;
    };
    const size_t need = n * t.info.row_bytes;
    std::shared_ptr<FetchBatch> pick;
    size_t n_idle = 0;
    for (size_t i = 0; i < t.pool.size();) {
        std::shared_ptr<FetchBatch>& b = t.pool[i];
        if (!idle(b)) {
            ++i;
            continue;
        }
        if (!pick) {
            pick = b;
            ++i;
            continue;
        }
        if (++n_idle > kPoolBatches) {
            t.pool.erase(t.pool.begin() + (std::ptrdiff_t)i);  // a long prompt's batches: freed
            continue;
        }
        if (b->data.capacity() > kPoolKeepBytes) std::vector<uint8_t>().swap(b->data);
        ++i;
    }
    if (!pick) {
        pick = std::make_shared<FetchBatch>();
        pick->impl_ = std::make_shared<FetchBatch::Impl>();
        t.pool.push_back(pick);
    }
    if (pick->data.capacity() > kPoolKeepBytes && need * 4 < pick->data.capacity())
        std::vector<uint8_t>().swap(pick->data);
    pick->impl_->reset();
    return pick;
}

std::shared_ptr<FetchBatch> TieredStore::request(int table, std::vector<uint64_t> rows) {
    return request(table, rows.data(), rows.size());
}

std::shared_ptr<FetchBatch> TieredStore::request(int table, const uint64_t* rows, size_t n_rows) {
    Impl& im = *impl_;
    auto failed = [&](std::string why) {
        auto b = std::make_shared<FetchBatch>();
        b->table = table;
        b->rows.assign(rows, rows + n_rows);
        b->impl_ = std::make_shared<FetchBatch::Impl>();
        b->impl_->error = std::move(why);
        return b;
    };
    if (table < 0 || (size_t)table >= im.tables.size())
        return failed(im.path + ": no table " + std::to_string(table) + " (the store has " +
                      std::to_string(im.tables.size()) + ")");
    TableState& t = *im.tables[table];
    const uint64_t rb = t.info.row_bytes;
    for (size_t i = 0; i < n_rows; ++i)
        if (rows[i] >= t.info.n_rows)
            return failed(im.path + ": table " + t.info.tensor + ": row " + std::to_string(rows[i]) +
                          " out of range (" + std::to_string(t.info.n_rows) + " rows)");
    std::shared_ptr<FetchBatch> b;
    {
        std::lock_guard lk(im.mu);
        b = im.take_batch(t, n_rows);
        b->table = table;
        b->rows.assign(rows, rows + n_rows);
        b->data.resize(n_rows * rb);
        FetchBatch::Impl& bi = *b->impl_;
        for (uint32_t i = 0; i < n_rows; ++i) {
            const uint64_t r = rows[i];
            ++im.lookups;
            t.count(r);
            const uint8_t* src = nullptr;
            if (t.full) {
                src = t.slot_ptr(r);
            } else if (t.policy->touch(r)) {
                const int64_t s = t.policy->slot_of(r);
                if (s >= 0) src = t.slot_ptr((uint64_t)s);
            }
            if (src) {
                ++im.dram_hits;
                std::memcpy(b->data.data() + (size_t)i * rb, src, rb);
            } else {
                ++im.dram_misses;
                bi.missing.push_back(i);
            }
        }
    }
    FetchBatch::Impl& bi = *b->impl_;
    if (bi.missing.empty()) return b;
    std::sort(bi.missing.begin(), bi.missing.end(),
              [&](uint32_t x, uint32_t y) { return b->rows[x] < b->rows[y]; });
    bi.miss_rows.resize(bi.missing.size());
    for (size_t k = 0; k < bi.missing.size(); ++k) bi.miss_rows[k] = b->rows[bi.missing[k]];
    bi.arrived_ns.assign(bi.missing.size(), 0);
    bi.pending = bi.missing.size();
    if (!im.opt.prefetch) {
        bi.sync_read = true;
        return b;
    }
    // io_uring: one thread issues the request's reads together. pread: the
    // threads share them out (one read per call, several calls at once).
    const size_t n_miss = bi.miss_rows.size();
    const size_t per_job = im.uring ? kUringSliceRows : (n_miss + im.workers.size() - 1) / im.workers.size();
    size_t n_jobs = 0;
    {
        std::lock_guard lk(im.qmu);
        slice_rows(t.info, im.direct, bi.miss_rows, per_job, [&](uint32_t first, uint32_t count) {
            im.queue.push(Job{b.get(), table, first, count, nullptr});
            ++n_jobs;
        });
    }
    if (n_jobs == 1) im.qcv.notify_one();
    else im.qcv.notify_all();
    return b;
}

Status TieredStore::wait(FetchBatch& b) {
    Impl& im = *impl_;
    if (!b.impl_) return make_error(im.path + ": wait() on a batch this store did not make");
    FetchBatch::Impl& bi = *b.impl_;
    const int64_t t0 = now_ns();
    bool sync = false;
    {
        std::lock_guard lk(bi.mu);
        sync = bi.sync_read;
        bi.sync_read = false;
    }
    if (sync) {
        // No prefetch: the forward reads its misses itself, now (into this
        // thread's buffer, grown once).
        const uint64_t cpu0 = thread_cpu_ns();
        auto ctx = im.take_context();
        im.fetch_slice(b, 0, (uint32_t)bi.miss_rows.size(), *ctx);
        im.give_context(std::move(ctx));
        const uint64_t cpu = thread_cpu_ns() - cpu0;
        std::lock_guard slk(im.mu);
        im.io.thread_cpu_ns += cpu;
    }
    std::unique_lock lk(bi.mu);
    bi.cv.wait(lk, [&] { return bi.pending == 0; });
    const int64_t t1 = now_ns();
    uint64_t lead = 0;
    if (!bi.waited)
        for (int64_t a : bi.arrived_ns)
            if (a > 0 && a < t0) lead += (uint64_t)(t0 - a);
    const bool first = !bi.waited;
    bi.waited = true;
    std::string error = bi.error;
    lk.unlock();
    if (first) {
        std::lock_guard slk(im.mu);
        im.stall_ns += (uint64_t)(t1 - t0);
        im.lead_ns += lead;
    }
    if (!error.empty()) return make_error(error);
    return {};
}

ExtensionStats TieredStore::stats() const {
    const Impl& im = *impl_;
    ExtensionStats s;
    TierStats dram{"dram"}, ssd{"ssd"};
    std::lock_guard lk(im.mu);
    dram.hits = im.dram_hits;
    dram.misses = im.dram_misses;
    for (const auto& t : im.tables) {
        dram.bytes_resident += t->resident_rows() * t->info.row_bytes;
        dram.capacity_bytes += t->capacity_rows * t->info.row_bytes;
    }
    ssd.hits = im.ssd_rows;
    ssd.bytes_read = im.ssd_bytes;
    s.tiers = {dram, ssd};
    s.stall_us = im.stall_ns / 1000;
    s.lead_us = im.lead_ns / 1000;
    s.rows_fetched = im.rows_fetched;
    s.lookups = im.lookups;
    return s;
}

StoreIoStats TieredStore::io_stats() const {
    std::lock_guard lk(impl_->mu);
    StoreIoStats s = impl_->io;
    s.backend = tier::io_backend_name(impl_->file->backend());
    return s;
}

std::string StoreIoStats::json() const {
    char buf[512];
    std::snprintf(buf, sizeof buf,
                  "{\"backend\": \"%s\", \"rows\": %llu, \"reads\": %llu, \"syscalls\": %llu, \"bytes\": %llu, "
                  "\"io_cpu_ns\": %llu, \"thread_cpu_ns\": %llu, \"io_cpu_us_per_row\": %.3f, "
                  "\"thread_cpu_us_per_row\": %.3f}",
                  backend.c_str(), (unsigned long long)rows, (unsigned long long)reads, (unsigned long long)syscalls,
                  (unsigned long long)bytes, (unsigned long long)io_cpu_ns, (unsigned long long)thread_cpu_ns,
                  io_cpu_us_per_row(), thread_cpu_us_per_row());
    return buf;
}

uint64_t TieredStore::resident_bytes() const {
    std::lock_guard lk(impl_->mu);
    uint64_t n = 0;
    for (const auto& t : impl_->tables) n += t->resident_rows() * t->info.row_bytes;
    return n;
}

uint64_t TieredStore::capacity_bytes() const {
    uint64_t n = 0;
    for (const auto& t : impl_->tables) n += t->capacity_rows * t->info.row_bytes;
    return n;
}

uint64_t TieredStore::capacity_rows(int table) const {
    if (table < 0 || (size_t)table >= impl_->tables.size()) return 0;
    return impl_->tables[table]->capacity_rows;
}

Status TieredStore::save_hot_stats() const {
    if (impl_->opt.hot_stats_path.empty()) return {};
    return write_hot_stats(impl_->opt.hot_stats_path, impl_->hot_tables());
}

std::vector<std::pair<uint64_t, uint32_t>> TieredStore::hottest(int table, size_t n) const {
    if (table < 0 || (size_t)table >= impl_->tables.size()) return {};
    std::lock_guard lk(impl_->mu);
    return impl_->tables[table]->top(n);
}

bool TieredStore::is_resident(int table, uint64_t row) const {
    if (table < 0 || (size_t)table >= impl_->tables.size()) return false;
    const TableState& t = *impl_->tables[table];
    if (row >= t.info.n_rows) return false;
    std::lock_guard lk(impl_->mu);
    return t.full || (t.policy && t.policy->contains(row));
}

void TieredStore::wait_warm() const {
    std::unique_lock lk(impl_->qmu);
    impl_->warm_cv.wait(lk, [&] { return impl_->warm_pending == 0; });
}

bool TieredStore::direct_io_active() const { return impl_->direct; }
tier::IoBackend TieredStore::io_backend() const { return impl_->file->backend(); }

}  // namespace eg::engram
