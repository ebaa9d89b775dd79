// The tiered store on real files: two tables at odd, unaligned offsets
// behind a header gap, rows of 128 and 34 bytes (Q8_0-like sizes), every
// byte derived from (table, row). At DRAM budgets of 100%, 25%, 5% and 0%,
// with prefetch on and off and O_DIRECT on and off, on a disk directory and
// on tmpfs, every byte served must be the file's, and the figures must add
// up. Then the failures a user meets: a truncated file, a file cut while
// running, garbage hot-row stats; and the warm restart from saved stats.
#include <QtTest>

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <random>
#include <set>
#include <thread>

#include "tier/flat_map.h"
#include "store.h"

using namespace eg;
using namespace eg::engram;
using namespace eg::tier;

namespace {

constexpr uint64_t kHeaderBytes = 1237;  // unaligned start of table 0
constexpr uint64_t kGapBytes = 77;       // between the tables
constexpr uint64_t kTailBytes = 501;

uint8_t byte_of(int table, uint64_t row, uint64_t j) {
    return (uint8_t)(mix64(((uint64_t)table << 56) ^ (row << 16) ^ j) >> 24);
}

std::vector<TableInfo> layout() {
    std::vector<TableInfo> t(2);
    t[0].tensor = "blk.1.engram_embd.weight";
    t[0].type = GgmlType::F16;
    t[0].key_length = 64;
    t[0].n_rows = 3001;
    t[0].row_bytes = 128;
    t[0].file_offset = kHeaderBytes;
    t[1].tensor = "blk.2.engram_embd.weight";
    t[1].type = GgmlType::Q8_0;
    t[1].key_length = 32;
    t[1].n_rows = 5003;
    t[1].row_bytes = 34;
    t[1].file_offset = kHeaderBytes + t[0].n_rows * t[0].row_bytes + kGapBytes;
    return t;
}

uint64_t table_bytes(const std::vector<TableInfo>& ts) {
    uint64_t n = 0;
    for (const auto& t : ts) n += t.n_rows * t.row_bytes;
    return n;
}

// Writes the file: header gap, table 0, gap, table 1, tail.
void write_file(const std::string& path) {
    const auto ts = layout();
    std::vector<uint8_t> buf(ts[1].file_offset + ts[1].n_rows * ts[1].row_bytes + kTailBytes, 0xEE);
    for (int t = 0; t < 2; ++t)
        for (uint64_t r = 0; r < ts[t].n_rows; ++r)
            for (uint64_t j = 0; j < ts[t].row_bytes; ++j)
                buf[ts[t].file_offset + r * ts[t].row_bytes + j] = byte_of(t, r, j);
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write((const char*)buf.data(), (std::streamsize)buf.size());
}

// Rows with a skew (a few hot, a long tail), unique within a batch.
std::vector<uint64_t> skewed_rows(std::mt19937_64& rng, uint64_t n_rows, size_t n) {
    std::uniform_real_distribution<double> u(0, 1);
    std::set<uint64_t> rows;
    while (rows.size() < n) {
        const double x = u(rng);
        const uint64_t rank = (uint64_t)((double)n_rows * x * x * x * x);
        rows.insert((rank * 7919) % n_rows);
    }
    std::vector<uint64_t> v(rows.begin(), rows.end());
    std::shuffle(v.begin(), v.end(), rng);
    return v;
}

// Every byte of every row of a waited batch is the file's.
bool batch_exact(const FetchBatch& b, uint64_t row_bytes, QString* why) {
    for (size_t i = 0; i < b.rows.size(); ++i)
        for (uint64_t j = 0; j < row_bytes; ++j)
            if (b.row(i, row_bytes)[j] != byte_of(b.table, b.rows[i], j)) {
                *why = QString("table %1 row %2 byte %3 differs").arg(b.table).arg(b.rows[i]).arg(j);
                return false;
            }
    return true;
}

// The error text of a result, "" when it succeeded (QVERIFY2 evaluates its
// message either way).
template <class R>
QString why_failed(const R& r) {
    return r.ok() ? QString() : QString::fromStdString(r.message());
}

const TierStats& tier_of(const ExtensionStats& s, const char* name) {
    for (const auto& t : s.tiers)
        if (t.tier == name) return t;
    qFatal("no tier %s", name);
}

// Directories to test in: the temp dir (a disk here) and tmpfs when present.
std::vector<QString> test_dirs() {
    std::vector<QString> d{QDir::tempPath()};
    if (QFileInfo("/dev/shm").isDir() && QFileInfo("/dev/shm").isWritable()) d.push_back("/dev/shm");
    return d;
}

}  // namespace

class TestEngramStore : public QObject {
    Q_OBJECT

private slots:
    void tiers_serve_the_files_bytes() {
        const auto ts = layout();
        const uint64_t total = table_bytes(ts);
        for (const QString& base : test_dirs()) {
            QTemporaryDir dir(base + "/eg-store-XXXXXX");
            QVERIFY(dir.isValid());
            const std::string path = dir.filePath("tables.gguf").toStdString();
            write_file(path);
            const uint64_t file_size = (uint64_t)QFileInfo(QString::fromStdString(path)).size();
            for (double share : {1.0, 0.25, 0.05, 0.0})
                for (bool prefetch : {true, false})
                    for (bool direct : {true, false})
                        for (IoBackend backend : {IoBackend::Auto, IoBackend::Pread}) {
                            StoreOptions opt;
                            opt.io_backend = backend;
                            opt.dram_budget_bytes = (uint64_t)(share * (double)total);
                            opt.prefetch = prefetch;
                            opt.direct_io = direct;
                            opt.io_threads = 3;
                            opt.policy = share == 0.25 && !direct ? PolicyKind::Lru : PolicyKind::WTinyLfu;
                            const QString what = QString("%1 budget %2% prefetch %3 direct %4 %5")
                                                     .arg(base).arg(share * 100).arg(prefetch).arg(direct)
                                                     .arg(io_backend_name(backend));
                            auto store = TieredStore::open(path, ts, opt);
                            QVERIFY2(store.ok(), qPrintable(what + ": " + why_failed(store)));
                            TieredStore& s = *store.value();
                            if (base != "/dev/shm") QCOMPARE(s.direct_io_active(), direct);
                            if (backend == IoBackend::Pread) QCOMPARE(s.io_backend(), IoBackend::Pread);
                            QVERIFY(s.capacity_bytes() <= opt.dram_budget_bytes);
                            if (share == 1.0) QCOMPARE(s.resident_bytes(), total);  // preloaded
                            if (share == 0.0) QCOMPARE(s.capacity_bytes(), 0u);

                            std::mt19937_64 rng(7);
                            uint64_t requested = 0;
                            for (int it = 0; it < 80; ++it) {
                                const int t = (int)(rng() % 2);
                                const auto before = s.stats();
                                auto b = s.request(t, skewed_rows(rng, ts[t].n_rows, 1 + rng() % 150));
                                requested += b->rows.size();
                                Status st = s.wait(*b);
                                QVERIFY2(st.ok(), qPrintable(what + ": " + why_failed(st)));
                                QString why;
                                QVERIFY2(batch_exact(*b, ts[t].row_bytes, &why), qPrintable(what + ": " + why));
                                // bytes_read: what pread delivered. Buffered: exactly the rows.
                                // O_DIRECT: whole 4096-byte blocks (the file's last one is short),
                                // at most the blocks around each row.
                                const auto after = s.stats();
                                const uint64_t misses = tier_of(after, "dram").misses - tier_of(before, "dram").misses;
                                const uint64_t bytes = tier_of(after, "ssd").bytes_read - tier_of(before, "ssd").bytes_read;
                                const uint64_t rb = ts[t].row_bytes;
                                if (!s.direct_io_active()) {
                                    QCOMPARE(bytes, misses * rb);
                                } else {
                                    QVERIFY(bytes % 4096 == 0 || bytes % 4096 == file_size % 4096);
                                    QVERIFY(bytes >= misses * rb);
                                    QVERIFY(bytes <= misses * ((rb + 4095) / 4096 + 1) * 4096);
                                }
                                QVERIFY(s.resident_bytes() <= s.capacity_bytes());
                            }
                            const auto st = s.stats();
                            const auto& dram = tier_of(st, "dram");
                            const auto& ssd = tier_of(st, "ssd");
                            QCOMPARE(st.lookups, requested);
                            QCOMPARE(dram.hits + dram.misses, st.lookups);
                            QCOMPARE(ssd.hits, dram.misses);  // every miss read once from the file
                            QCOMPARE(st.rows_fetched, dram.misses);
                            // The read figures: every miss read once, rows sharing blocks joined.
                            const StoreIoStats io = s.io_stats();
                            QCOMPARE(io.rows, dram.misses);
                            QCOMPARE(io.bytes, ssd.bytes_read);
                            QVERIFY(io.reads <= io.rows);
                            QVERIFY(io.rows == 0 || io.reads > 0);
                            QCOMPARE(dram.bytes_resident, s.resident_bytes());
                            QCOMPARE(dram.capacity_bytes, s.capacity_bytes());
                            QVERIFY(dram.bytes_resident <= opt.dram_budget_bytes);
                            if (share == 1.0) QCOMPARE(dram.misses, 0u);
                            if (share == 0.0) {
                                QCOMPARE(dram.hits, 0u);
                                QCOMPARE(s.resident_bytes(), 0u);
                            }
                            if (share == 0.25 || share == 0.05) QVERIFY(dram.hits > 0 && dram.misses > 0);
                            qInfo("%s (reads %s): dram hits %llu misses %llu, ssd bytes %llu, stall %llu us, lead %llu us",
                                  qPrintable(what), s.direct_io_active() ? "O_DIRECT" : "buffered",
                                  (unsigned long long)dram.hits, (unsigned long long)dram.misses,
                                  (unsigned long long)ssd.bytes_read, (unsigned long long)st.stall_us,
                                  (unsigned long long)st.lead_us);
                        }
        }
    }

    // A budget covering the tables without preloading: DRAM fills as rows
    // are read, and a second pass over the same rows is served from it.
    void full_budget_fills_lazily() {
        QTemporaryDir dir;
        const std::string path = dir.filePath("tables.gguf").toStdString();
        write_file(path);
        const auto ts = layout();
        StoreOptions opt;
        opt.preload_resident = false;
        auto store = TieredStore::open(path, ts, opt);
        QVERIFY(store.ok());
        TieredStore& s = *store.value();
        QCOMPARE(s.resident_bytes(), 0u);
        QCOMPARE(s.capacity_bytes(), table_bytes(ts));
        std::vector<uint64_t> rows;
        for (uint64_t r = 0; r < ts[1].n_rows; r += 3) rows.push_back(r);
        for (int pass = 0; pass < 2; ++pass) {
            auto b = s.request(1, rows);
            QVERIFY(s.wait(*b).ok());
            QString why;
            QVERIFY2(batch_exact(*b, ts[1].row_bytes, &why), qPrintable(why));
        }
        const auto st = s.stats();
        QCOMPARE(tier_of(st, "dram").misses, (uint64_t)rows.size());
        QCOMPARE(tier_of(st, "dram").hits, (uint64_t)rows.size());
        QCOMPARE(s.resident_bytes(), rows.size() * ts[1].row_bytes);
    }

    // Several sessions requesting from one store at once.
    void concurrent_sessions() {
        QTemporaryDir dir;
        const std::string path = dir.filePath("tables.gguf").toStdString();
        write_file(path);
        const auto ts = layout();
        StoreOptions opt;
        opt.dram_budget_bytes = table_bytes(ts) / 20;
        opt.io_threads = 4;
        auto store = TieredStore::open(path, ts, opt);
        QVERIFY(store.ok());
        TieredStore& s = *store.value();
        std::atomic<int> bad{0};
        std::vector<std::thread> threads;
        for (int th = 0; th < 4; ++th)
            threads.emplace_back([&, th] {
                std::mt19937_64 rng(100 + th);
                for (int it = 0; it < 100; ++it) {
                    const int t = (int)(rng() % 2);
                    auto b = s.request(t, skewed_rows(rng, ts[t].n_rows, 1 + rng() % 100));
                    QString why;
                    if (!s.wait(*b).ok() || !batch_exact(*b, ts[t].row_bytes, &why)) ++bad;
                }
            });
        for (auto& t : threads) t.join();
        QCOMPARE(bad.load(), 0);
        const auto st = s.stats();
        QCOMPARE(tier_of(st, "dram").hits + tier_of(st, "dram").misses, st.lookups);
        QVERIFY(s.resident_bytes() <= opt.dram_budget_bytes);
    }

    void truncated_file_is_a_clear_error() {
        QTemporaryDir dir;
        const QString path = dir.filePath("cut.gguf");
        write_file(path.toStdString());
        const auto ts = layout();
        // Cut inside table 1.
        QVERIFY(::truncate(path.toLocal8Bit().constData(), (off_t)(ts[1].file_offset + 100 * ts[1].row_bytes)) == 0);
        auto store = TieredStore::open(path.toStdString(), ts, StoreOptions{});
        QVERIFY(!store.ok());
        const QString msg = QString::fromStdString(store.message());
        qInfo("%s", qPrintable(msg));
        QVERIFY(msg.contains(path));
        QVERIFY(msg.contains("blk.2.engram_embd.weight"));
        QVERIFY(msg.contains(QString::number(ts[1].file_offset + ts[1].n_rows * ts[1].row_bytes)));

        auto missing = TieredStore::open(dir.filePath("none.gguf").toStdString(), ts, StoreOptions{});
        QVERIFY(!missing.ok());
        QVERIFY(QString::fromStdString(missing.message()).contains("none.gguf"));
    }

    // The file shrinks under a running store: reads fail with a message,
    // resident and earlier rows keep working, nothing hangs.
    void file_cut_while_running() {
        const auto ts = layout();
        for (bool prefetch : {true, false})
            for (bool direct : {true, false})
                for (IoBackend backend : {IoBackend::Auto, IoBackend::Pread}) {
                    QTemporaryDir dir;
                    const QString path = dir.filePath("shrinks.gguf");
                    write_file(path.toStdString());
                    StoreOptions opt;
                    opt.dram_budget_bytes = 0;
                    opt.prefetch = prefetch;
                    opt.direct_io = direct;
                    opt.io_backend = backend;
                    auto store = TieredStore::open(path.toStdString(), ts, opt);
                    QVERIFY(store.ok());
                    TieredStore& s = *store.value();
                    auto ok1 = s.request(1, {4000, 10, 4999});
                    QVERIFY(s.wait(*ok1).ok());
                    const int fd = ::open(path.toLocal8Bit().constData(), O_WRONLY);
                    QVERIFY(fd >= 0);
                    QVERIFY(::ftruncate(fd, (off_t)(ts[1].file_offset + 1000 * ts[1].row_bytes)) == 0);
                    ::close(fd);
                    auto cut = s.request(1, {5, 4000, 4500});
                    Status st = s.wait(*cut);
                    QVERIFY(!st.ok());
                    const QString msg = QString::fromStdString(st.message());
                    qInfo("%s", qPrintable(msg));
                    QVERIFY(msg.contains(path));
                    QVERIFY(msg.contains("blk.2.engram_embd.weight"));
                    QVERIFY(msg.contains("row 4000") || msg.contains("row 4500"));
                    QVERIFY(msg.contains("file ends at byte"));
                    // Rows still inside the file are read fine.
                    auto still = s.request(0, {0, 1, 3000});
                    QVERIFY(s.wait(*still).ok());
                    QString why;
                    QVERIFY2(batch_exact(*still, ts[0].row_bytes, &why), qPrintable(why));
                    // A batch the caller never waits for does not hold up the destructor.
                    auto abandoned = s.request(1, {4100, 4200});
                    Q_UNUSED(abandoned);
                }
    }

    void bad_request_is_an_error() {
        QTemporaryDir dir;
        const std::string path = dir.filePath("t.gguf").toStdString();
        write_file(path);
        auto store = TieredStore::open(path, layout(), StoreOptions{});
        QVERIFY(store.ok());
        auto b = store.value()->request(0, {1, 3001});
        Status st = store.value()->wait(*b);
        QVERIFY(!st.ok());
        QVERIFY(QString::fromStdString(st.message()).contains("row 3001 out of range"));
        auto c = store.value()->request(7, {1});
        QVERIFY(!store.value()->wait(*c).ok());
    }

    // A run leaves hot-row stats; the next open warms the hottest rows before
    // the first request, which then hits DRAM.
    void hot_stats_warm_a_restart() {
        QTemporaryDir dir;
        const std::string path = dir.filePath("t.gguf").toStdString();
        const std::string hot = dir.filePath("engram-hot/t.hot").toStdString();  // directory made on save
        write_file(path);
        const auto ts = layout();
        StoreOptions opt;
        opt.dram_budget_bytes = table_bytes(ts) / 4;
        opt.hot_stats_path = hot;
        std::vector<std::vector<std::pair<uint64_t, uint32_t>>> top(2);
        {
            auto store = TieredStore::open(path, ts, opt);
            QVERIFY(store.ok());
            std::mt19937_64 rng(3);
            for (int it = 0; it < 300; ++it) {
                const int t = it % 2;
                auto b = store.value()->request(t, skewed_rows(rng, ts[t].n_rows, 50));
                QVERIFY(store.value()->wait(*b).ok());
            }
            for (int t = 0; t < 2; ++t) {
                top[t] = store.value()->hottest(t, 100);
                QCOMPARE(top[t].size(), size_t(100));
                for (size_t i = 1; i < top[t].size(); ++i) QVERIFY(top[t][i - 1].second >= top[t][i].second);
                QVERIFY(top[t][0].second > top[t][99].second);
            }
        }  // the destructor saves
        QVERIFY(QFileInfo::exists(QString::fromStdString(hot)));
        QVERIFY(!QFileInfo::exists(QString::fromStdString(hot + ".tmp")));  // written aside, then renamed

        auto store = TieredStore::open(path, ts, opt);
        QVERIFY(store.ok());
        TieredStore& s = *store.value();
        s.wait_warm();
        QVERIFY(s.resident_bytes() > 0);
        for (int t = 0; t < 2; ++t) {
            QCOMPARE(s.hottest(t, 1).at(0), top[t][0]);
            std::vector<uint64_t> rows;
            for (const auto& [row, n] : top[t]) {
                QVERIFY2(s.is_resident(t, row), qPrintable(QString("hot row %1 of table %2 not warm").arg(row).arg(t)));
                rows.push_back(row);
            }
            auto b = s.request(t, rows);
            QVERIFY(s.wait(*b).ok());
            QString why;
            QVERIFY2(batch_exact(*b, ts[t].row_bytes, &why), qPrintable(why));
        }
        const auto st = s.stats();
        QCOMPARE(tier_of(st, "dram").misses, 0u);
        QCOMPARE(tier_of(st, "dram").hits, 200u);
    }

    void garbage_hot_stats_are_ignored() {
        QTemporaryDir dir;
        const std::string path = dir.filePath("t.gguf").toStdString();
        const QString hot = dir.filePath("t.hot");
        write_file(path);
        const auto ts = layout();
        StoreOptions opt;
        opt.dram_budget_bytes = table_bytes(ts) / 4;
        opt.hot_stats_path = hot.toStdString();
        // Random bytes, then a valid file of other tables, then a truncated valid file.
        {
            QFile f(hot);
            QVERIFY(f.open(QIODevice::WriteOnly));
            std::mt19937 rng(1);
            QByteArray junk(5000, 0);
            for (auto& c : junk) c = (char)rng();
            f.write(junk);
        }
        for (int variant = 0; variant < 3; ++variant) {
            if (variant == 1) {
                auto other = ts;
                other[1].n_rows = 4000;
                auto o = TieredStore::open(path, other, opt);
                QVERIFY(o.ok());
                auto b = o.value()->request(1, {1, 2, 3});
                QVERIFY(o.value()->wait(*b).ok());
                QVERIFY(o.value()->save_hot_stats().ok());
            }
            if (variant == 2) {
                QFile f(hot);
                QVERIFY(f.open(QIODevice::ReadWrite));
                QVERIFY(f.resize(f.size() - 5));
            }
            auto store = TieredStore::open(path, ts, opt);
            QVERIFY2(store.ok(), qPrintable(why_failed(store)));
            store.value()->wait_warm();
            QCOMPARE(store.value()->resident_bytes(), 0u);  // nothing warmed from bad stats
            QVERIFY(store.value()->hottest(0, 10).empty());
            auto b = store.value()->request(0, {5, 6, 7});
            QVERIFY(store.value()->wait(*b).ok());
            QString why;
            QVERIFY(batch_exact(*b, ts[0].row_bytes, &why));
            if (variant == 0) store.value().reset();  // saves a valid file over the junk
        }
    }
};

QTEST_GUILESS_MAIN(TestEngramStore)
#include "test_engram_store.moc"
