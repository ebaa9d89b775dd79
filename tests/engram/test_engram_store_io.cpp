// The store's batched reads (tier/io_batch.h) on real files: random request sets
// — rows sharing a 4 KiB block, adjacent rows, overlapping requests, pieces
// of megabytes, aligned requests read straight into place, the file's short
// last block — must deliver exactly the file's bytes, and nothing outside
// the destinations, with io_uring and with the pread fallback, O_DIRECT and
// buffered, on a disk directory and on tmpfs. Rows sharing or adjoining
// blocks are one read; io_uring issues a batch in one system call; io_uring
// refused by a seccomp filter falls back to pread at open; a read the
// kernel fails is an error naming the file and the bytes.
// (Named test_engram_store_*: scripts/test.sh also runs it under ASan+UBSan.)
#include <QtTest>

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <fstream>
#include <random>
#include <thread>

#include "tier/io_batch.h"
#include "store.h"

using namespace eg;
using namespace eg::engram;
using namespace eg::tier;

namespace {

constexpr uint64_t kFileBytes = (5ULL << 20) + 1234;  // the last 4 KiB block is short
constexpr size_t kGuard = 64;                          // canary bytes around each destination
constexpr uint8_t kCanary = 0xA5;

uint8_t byte_at(uint64_t off) {
    uint64_t x = off * 0x9E3779B97F4A7C15ULL;
    x ^= x >> 29;
    return (uint8_t)(x >> 17);
}

void write_file(const std::string& path, uint64_t size = kFileBytes) {
    std::vector<uint8_t> buf(size);
    for (uint64_t i = 0; i < size; ++i) buf[i] = byte_at(i);
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write((const char*)buf.data(), (std::streamsize)buf.size());
}

std::vector<QString> test_dirs() {
    std::vector<QString> d{QDir::tempPath()};
    if (QFileInfo("/dev/shm").isDir() && QFileInfo("/dev/shm").isWritable()) d.push_back("/dev/shm");
    return d;
}

template <class R>
QString why_failed(const R& r) {
    return r.ok() ? QString() : QString::fromStdString(r.message());
}

// Destinations with canaries on both sides; aligned ones (for reads straight
// into place) in their own 4096-aligned allocation.
struct Dest {
    uint8_t* base = nullptr;  // allocation
    size_t before = 0, len = 0;
    uint8_t* dst() const { return base + before; }
};

struct RequestSet {
    std::vector<ReadRequest> reqs;
    std::vector<Dest> dests;
    ~RequestSet() {
        for (auto& d : dests) std::free(d.base);
    }
    void add(uint64_t off, uint64_t len, bool aligned_dst = false) {
        Dest d;
        d.len = len;
        d.before = aligned_dst ? 4096 : kGuard;
        const size_t total = d.before + len + kGuard;
        void* p = nullptr;
        QVERIFY(posix_memalign(&p, 4096, total) == 0);
        d.base = (uint8_t*)p;
        std::memset(d.base, kCanary, total);
        dests.push_back(d);
        reqs.push_back(ReadRequest{off, len, d.dst()});
    }
    // Every destination holds the file's bytes; every canary is intact.
    bool exact(QString* why) const {
        for (size_t i = 0; i < reqs.size(); ++i) {
            const Dest& d = dests[i];
            for (size_t j = 0; j < d.before; ++j)
                if (d.base[j] != kCanary) {
                    *why = QString("request %1: byte %2 before the destination written").arg(i).arg(d.before - j);
                    return false;
                }
            for (size_t j = 0; j < kGuard; ++j)
                if (d.base[d.before + d.len + j] != kCanary) {
                    *why = QString("request %1: byte %2 after the destination written").arg(i).arg(j);
                    return false;
                }
            for (uint64_t j = 0; j < d.len; ++j)
                if (d.dst()[j] != byte_at(reqs[i].offset + j)) {
                    *why = QString("request %1 (offset %2, length %3): byte %4 differs")
                               .arg(i).arg(reqs[i].offset).arg(reqs[i].length).arg(j);
                    return false;
                }
        }
        return true;
    }
};

// A random request set of every shape the store and the expert tier make.
void random_requests(std::mt19937_64& rng, RequestSet& s) {
    auto u = [&](uint64_t lo, uint64_t hi) { return std::uniform_int_distribution<uint64_t>(lo, hi)(rng); };
    const int n = (int)u(1, 40);
    for (int i = 0; i < n; ++i) {
        switch (u(0, 7)) {
            case 0: {  // a row anywhere
                const uint64_t len = u(1, 600);
                s.add(u(0, kFileBytes - len), len);
                break;
            }
            case 1: {  // rows sharing one 4 KiB block
                const uint64_t block = u(0, kFileBytes / 4096 - 1) * 4096;
                for (int k = (int)u(2, 6); k > 0; --k) {
                    const uint64_t len = u(8, 200);
                    s.add(block + u(0, 4096 - len), len);
                }
                break;
            }
            case 2: {  // adjacent rows (a run of one table's rows), across block edges
                const uint64_t rb = u(0, 1) ? 34 : 128;
                const uint64_t k = u(2, 80);
                const uint64_t off = u(0, kFileBytes - k * rb);
                for (uint64_t j = 0; j < k; ++j) s.add(off + j * rb, rb);
                break;
            }
            case 3: {  // overlapping requests
                const uint64_t off = u(0, kFileBytes - 9000);
                s.add(off, u(100, 5000));
                s.add(off + u(0, 3000), u(1, 6000));
                break;
            }
            case 4: {  // an expert: hundreds of KiB to megabytes, unaligned
                const uint64_t len = u(100 << 10, 2500 << 10);
                s.add(u(0, kFileBytes - len), len);
                break;
            }
            case 5: {  // aligned offset, length and destination: straight into place
                const uint64_t len = u(1, 300) * 4096;
                s.add(u(0, (kFileBytes - len) / 4096) * 4096, len, true);
                break;
            }
            case 6: {  // up to the end of the file (its last block is short)
                const uint64_t len = u(1, 9000);
                s.add(kFileBytes - len, len);
                break;
            }
            default:  // nothing
                s.add(u(0, kFileBytes), 0);
        }
    }
    // In random order (the reader sorts them).
    std::vector<size_t> perm(s.reqs.size());
    for (size_t i = 0; i < perm.size(); ++i) perm[i] = i;
    std::shuffle(perm.begin(), perm.end(), rng);
    std::vector<ReadRequest> r(perm.size());
    std::vector<Dest> d(perm.size());
    for (size_t i = 0; i < perm.size(); ++i) {
        r[i] = s.reqs[perm[i]];
        d[i] = s.dests[perm[i]];
    }
    s.reqs = r;
    s.dests = d;
}

std::vector<IoBackend> backends() {
    std::vector<IoBackend> b{IoBackend::Pread};
    if (IoFile::open("/proc/self/exe", IoFileOptions{false, IoBackend::Uring}).ok()) b.push_back(IoBackend::Uring);
    return b;
}

// Installs, on the calling thread only, a seccomp filter that fails
// io_uring_setup with err (what container runtimes do). False if refused.
bool refuse_io_uring_on_this_thread(int err) {
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return false;
    sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (uint32_t)offsetof(seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)__NR_io_uring_setup, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ((uint32_t)err & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    sock_fprog prog{(unsigned short)(sizeof filter / sizeof filter[0]), filter};
    return ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) == 0;
}

}  // namespace

class TestEngramStoreIo : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() {
        const bool uring = backends().size() == 2;
        qInfo("io_uring %s here", uring ? "works" : "is NOT available: only the pread path is tested");
    }

    void random_request_sets_read_the_files_bytes() {
        for (const QString& base : test_dirs()) {
            QTemporaryDir dir(base + "/eg-io-XXXXXX");
            QVERIFY(dir.isValid());
            const std::string path = dir.filePath("f.bin").toStdString();
            write_file(path);
            for (IoBackend backend : backends())
                for (bool direct : {true, false}) {
                    auto f = IoFile::open(path, IoFileOptions{direct, backend});
                    QVERIFY2(f.ok(), qPrintable(why_failed(f)));
                    QCOMPARE(f.value()->backend(), backend);
                    QCOMPARE(f.value()->size_at_open(), kFileBytes);
                    // A small queue and small reads too: waves of reads, pieces, a full bounce buffer.
                    BatchReader big(f.value(), 64), small(f.value(), 3);
                    std::mt19937_64 rng(11);
                    for (int it = 0; it < 60; ++it) {
                        RequestSet s;
                        random_requests(rng, s);
                        const bool use_small = it % 3 == 2;
                        MergeOptions m;
                        if (it % 2) m.max_read_bytes = 64 << 10;
                        if (it % 5 == 4) m.max_gap = 20000;
                        BatchReader& r = use_small ? small : big;
                        const QString what = QString("%1 %2 %3 iteration %4")
                                                 .arg(base, io_backend_name(backend), direct ? "O_DIRECT" : "buffered")
                                                 .arg(it);
                        Status st = r.read(s.reqs, m);
                        QVERIFY2(st.ok(), qPrintable(what + ": " + why_failed(st)));
                        QString why;
                        QVERIFY2(s.exact(&why), qPrintable(what + ": " + why));
                    }
                    QVERIFY(big.counters().reads > 0);
                    QVERIFY(big.counters().bytes > 0);
                }
        }
    }

    // Rows that share or adjoin 4 KiB blocks are one read; far rows one
    // read each, all issued in one io_uring submission.
    void rows_sharing_blocks_are_one_read() {
        QTemporaryDir dir;
        const std::string path = dir.filePath("f.bin").toStdString();
        write_file(path);
        for (IoBackend backend : backends()) {
            auto f = IoFile::open(path, IoFileOptions{true, backend});
            QVERIFY(f.ok());
            const bool direct = f.value()->direct();
            BatchReader r(f.value());
            {
                // 8 rows of 128 bytes in block 10, 3 in block 11, one across 11|12.
                RequestSet s;
                for (int i = 0; i < 8; ++i) s.add(10 * 4096 + 300 + (uint64_t)i * 500, 128);
                for (int i = 0; i < 3; ++i) s.add(11 * 4096 + (uint64_t)i * 128, 128);
                s.add(12 * 4096 - 60, 128);
                const IoCounters c0 = r.counters();
                QVERIFY(r.read(s.reqs).ok());
                QString why;
                QVERIFY2(s.exact(&why), qPrintable(why));
                if (direct) {
                    QCOMPARE(r.counters().reads - c0.reads, 1u);
                    QCOMPARE(r.counters().bytes - c0.bytes, 3u * 4096);
                }
            }
            {
                // 32 rows 160 KiB apart: 32 reads.
                RequestSet s;
                for (int i = 0; i < 32; ++i) s.add((uint64_t)i * (160 << 10) + 777, 128);
                const IoCounters c0 = r.counters();
                QVERIFY(r.read(s.reqs).ok());
                QString why;
                QVERIFY2(s.exact(&why), qPrintable(why));
                const uint64_t reads = r.counters().reads - c0.reads, calls = r.counters().syscalls - c0.syscalls;
                QCOMPARE(reads, 32u);
                qInfo("%s, %s: 32 far rows: %llu reads, %llu system calls", io_backend_name(backend),
                      direct ? "O_DIRECT" : "buffered", (unsigned long long)reads, (unsigned long long)calls);
                if (backend == IoBackend::Uring) QVERIFY2(calls <= 2, qPrintable(QString::number(calls)));
                if (backend == IoBackend::Pread && direct) QCOMPARE(calls, 32u);
            }
        }
    }

    // The pread path, asked for (option, environment) or forced by a seccomp
    // filter refusing io_uring_setup as containers do: detected at open,
    // reads correct.
    void pread_fallback() {
        QTemporaryDir dir;
        const std::string path = dir.filePath("f.bin").toStdString();
        write_file(path);
        {
            auto f = IoFile::open(path, IoFileOptions{true, IoBackend::Pread});
            QVERIFY(f.ok());
            QCOMPARE(f.value()->backend(), IoBackend::Pread);
            QVERIFY(f.value()->fallback_reason().empty());
        }
        {
            ::setenv("ENGRAM_IO_BACKEND", "pread", 1);
            auto f = IoFile::open(path, IoFileOptions{});
            ::unsetenv("ENGRAM_IO_BACKEND");
            QVERIFY(f.ok());
            QCOMPARE(f.value()->backend(), IoBackend::Pread);
        }
        {
            // The store with the fallback forced on.
            TableInfo t;
            t.tensor = "rows";
            t.n_rows = kFileBytes / 128;
            t.row_bytes = 128;
            StoreOptions opt;
            opt.dram_budget_bytes = 0;
            opt.io_backend = IoBackend::Pread;
            auto store = TieredStore::open(path, {t}, opt);
            QVERIFY2(store.ok(), qPrintable(why_failed(store)));
            QCOMPARE(store.value()->io_backend(), IoBackend::Pread);
            auto b = store.value()->request(0, {5, 6, 7, 40000, 40001, 1000});
            QVERIFY(store.value()->wait(*b).ok());
            for (size_t i = 0; i < b->rows.size(); ++i)
                for (uint64_t j = 0; j < 128; ++j) QCOMPARE(b->row(i, 128)[j], byte_at(b->rows[i] * 128 + j));
            const StoreIoStats io = store.value()->io_stats();
            QCOMPARE(io.backend, std::string("pread"));
            QCOMPARE(io.rows, 6u);
            QVERIFY(io.reads <= 4);  // 5|6|7 share a block; 40000|40001 too
        }
        for (int err : {ENOSYS, EPERM}) {
            bool filtered = false, opened = false, correct = false;
            IoBackend got = IoBackend::Auto;
            std::string reason, failure;
            std::thread th([&] {
                filtered = refuse_io_uring_on_this_thread(err);
                if (!filtered) return;
                auto f = IoFile::open(path, IoFileOptions{});
                opened = f.ok();
                if (!opened) {
                    failure = f.message();
                    return;
                }
                got = f.value()->backend();
                reason = f.value()->fallback_reason();
                BatchReader r(f.value());
                std::mt19937_64 rng(err);
                RequestSet s;
                random_requests(rng, s);
                QString why;
                correct = r.read(s.reqs).ok() && s.exact(&why);
                // Asked for explicitly, io_uring that cannot work is an error.
                auto forced = IoFile::open(path, IoFileOptions{true, IoBackend::Uring});
                if (forced.ok()) correct = false;
                else failure = forced.message();
            });
            th.join();
            if (!filtered) QSKIP("seccomp filters cannot be installed here");
            QVERIFY2(opened, failure.c_str());
            qInfo("io_uring_setup refused with %s: fallback because \"%s\"; forced: \"%s\"", strerror(err),
                  reason.c_str(), failure.c_str());
            QCOMPARE(got, IoBackend::Pread);
            QVERIFY(QString::fromStdString(reason).contains("io_uring_setup"));
            QVERIFY(correct);
            QVERIFY(QString::fromStdString(failure).contains(QString::fromStdString(path)));
        }
    }

    // A read the kernel fails (here EFAULT: a destination the process may
    // not write, read into straight by the kernel) is an error that names
    // the file, the bytes and the cause, with every backend; reads in
    // flight beside it complete first.
    void io_error_names_the_file() {
        QTemporaryDir dir;
        const std::string path = dir.filePath("f.bin").toStdString();
        write_file(path);
        const size_t page = 4096;
        void* ro = ::mmap(nullptr, 4 * page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        QVERIFY(ro != MAP_FAILED);
        for (IoBackend backend : backends())
            for (bool direct : {true, false}) {
                auto f = IoFile::open(path, IoFileOptions{direct, backend});
                QVERIFY(f.ok());
                BatchReader r(f.value());
                RequestSet s;
                s.add(100, 50);
                s.add(3 << 20, 128);
                // Aligned offset and length: read straight into the read-only pages.
                s.reqs.push_back(ReadRequest{2 << 20, 2 * page, (uint8_t*)ro});
                ReadFailure fail;
                Status st = r.read(s.reqs, {}, &fail);
                QVERIFY(!st.ok());
                const QString msg = QString::fromStdString(st.message());
                qInfo("%s %s: %s", io_backend_name(backend), direct ? "O_DIRECT" : "buffered", qPrintable(msg));
                QVERIFY(msg.startsWith(QString::fromStdString(path) + ": "));
                QVERIFY(msg.contains(QString("bytes %1..%2").arg(2 << 20).arg((2 << 20) + 2 * page)));
                QVERIFY(msg.contains(strerror(EFAULT)));
                QCOMPARE(fail.request, size_t(2));
                // The reader still works.
                RequestSet ok;
                ok.add(5000, 300);
                QVERIFY(r.read(ok.reqs).ok());
                QString why;
                QVERIFY2(ok.exact(&why), qPrintable(why));
            }
        ::munmap(ro, 4 * page);
    }

    // The file ends before a request: an error naming the file and where it ends.
    void short_file_is_an_error() {
        QTemporaryDir dir;
        const std::string path = dir.filePath("f.bin").toStdString();
        write_file(path);
        for (IoBackend backend : backends())
            for (bool direct : {true, false}) {
                auto f = IoFile::open(path, IoFileOptions{direct, backend});
                QVERIFY(f.ok());
                BatchReader r(f.value());
                RequestSet s;
                s.add(1000, 100);
                s.add(kFileBytes - 50, 100);  // 50 bytes past the end
                Status st = r.read(s.reqs);
                QVERIFY(!st.ok());
                const QString msg = QString::fromStdString(st.message());
                qInfo("%s", qPrintable(msg));
                QVERIFY(msg.contains(QString::fromStdString(path)));
                QVERIFY(msg.contains(QString("file ends at byte %1").arg(kFileBytes)));
            }
    }
};

QTEST_GUILESS_MAIN(TestEngramStoreIo)
#include "test_engram_store_io.moc"
