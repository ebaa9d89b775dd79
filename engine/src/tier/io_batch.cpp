// Batched reads: requests sorted by offset, joined into reads, the reads
// issued together through one io_uring per reader (or one pread each), and
// bounce-buffered pieces copied out as they complete.
#include "tier/io_batch.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifdef EG_HAVE_LIBURING
#include <liburing.h>
#endif

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <system_error>

#include "core/log.h"

namespace eg::tier {

namespace {

constexpr uint64_t kAlign = 4096;              // O_DIRECT offset, size and buffer alignment
constexpr uint64_t kBounceBytes = 4ULL << 20;  // bounce-buffered bytes in flight per reader, at least

uint64_t align_down(uint64_t x) { return x & ~(kAlign - 1); }
uint64_t align_up(uint64_t x) { return (x + kAlign - 1) & ~(kAlign - 1); }
bool is_aligned(uint64_t x) { return (x & (kAlign - 1)) == 0; }

uint64_t thread_cpu_ns() {
    timespec ts{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

std::string errno_text(int e) { return std::error_code(e, std::generic_category()).message(); }

// An aligned buffer for O_DIRECT, grown on demand (never while reads into it
// are in flight).
class AlignedBuffer {
public:
    AlignedBuffer() = default;
    AlignedBuffer(const AlignedBuffer&) = delete;
    AlignedBuffer& operator=(const AlignedBuffer&) = delete;
    ~AlignedBuffer() { std::free(p_); }
    uint8_t* get(size_t n) {
        if (n > n_) {
            std::free(p_);
            p_ = nullptr;
            n_ = 0;
            void* p = nullptr;
            if (posix_memalign(&p, kAlign, align_up(n)) != 0) return nullptr;
            p_ = (uint8_t*)p;
            n_ = align_up(n);
        }
        return p_;
    }
    size_t size() const { return n_; }
    // Keeps the memory: a ring may still write it (see BatchReader::~BatchReader).
    void leak() { p_ = nullptr; n_ = 0; }

private:
    uint8_t* p_ = nullptr;
    size_t n_ = 0;
};

std::string bytes_range(uint64_t a, uint64_t b) { return "bytes " + std::to_string(a) + ".." + std::to_string(b); }

#ifdef EG_HAVE_LIBURING
// A ring with the cheapest completion mode the kernel has: task work run
// when this thread next enters the kernel (it always does, to wait), instead
// of an interrupt of whatever it is doing.
int init_ring(io_uring* ring, unsigned depth) {
    io_uring_params p{};
    p.flags = IORING_SETUP_COOP_TASKRUN;
    int r = io_uring_queue_init_params(depth, ring, &p);
    if (r == -EINVAL) {
        p = io_uring_params{};
        r = io_uring_queue_init_params(depth, ring, &p);
    }
    return r;
}
#endif

// Why io_uring cannot read this file here; "" when it can: a ring is set up,
// the kernel has IORING_OP_READ, and a read of the file's first block
// through it succeeds (a seccomp filter may refuse io_uring_setup with
// EPERM or ENOSYS; an old kernel has no io_uring or no READ).
std::string uring_problem(int fd, uint64_t file_size) {
#ifndef EG_HAVE_LIBURING
    (void)fd;
    (void)file_size;
    return "built without liburing";
#else
    io_uring ring{};
    const int r = init_ring(&ring, 4);
    if (r < 0) return "io_uring_setup: " + errno_text(-r);
    std::string why;
    if (io_uring_probe* probe = io_uring_get_probe_ring(&ring)) {
        if (!io_uring_opcode_supported(probe, IORING_OP_READ)) why = "the kernel's io_uring has no READ";
        io_uring_free_probe(probe);
    }
    if (why.empty() && file_size > 0) {
        AlignedBuffer buf;
        uint8_t* p = buf.get(kAlign);
        io_uring_sqe* sqe = p ? io_uring_get_sqe(&ring) : nullptr;
        if (!sqe) {
            why = "cannot queue a probe read";
        } else {
            io_uring_prep_read(sqe, fd, p, (unsigned)kAlign, 0);
            int s;
            do s = io_uring_submit_and_wait(&ring, 1);
            while (s == -EINTR);
            io_uring_cqe* cqe = nullptr;
            if (s < 0) {
                why = "io_uring_enter: " + errno_text(-s);
            } else if (int w = io_uring_wait_cqe(&ring, &cqe); w < 0) {
                why = "io_uring_wait_cqe: " + errno_text(-w);
            } else {
                if (cqe->res < 0) why = "a read through io_uring failed: " + errno_text(-cqe->res);
                io_uring_cqe_seen(&ring, cqe);
            }
        }
    }
    io_uring_queue_exit(&ring);
    return why;
#endif
}

}  // namespace

const char* io_backend_name(IoBackend b) {
    switch (b) {
        case IoBackend::Auto: return "auto";
        case IoBackend::Uring: return "io_uring";
        case IoBackend::Pread: return "pread";
    }
    return "?";
}

bool parse_io_backend(const std::string& s, IoBackend* out) {
    if (s == "auto") *out = IoBackend::Auto;
    else if (s == "io_uring" || s == "uring") *out = IoBackend::Uring;
    else if (s == "pread") *out = IoBackend::Pread;
    else return false;
    return true;
}

IoFile::~IoFile() {
    if (fd_ >= 0) ::close(fd_);
}

Result<std::shared_ptr<IoFile>> IoFile::open(const std::string& path, IoFileOptions opt) {
    std::shared_ptr<IoFile> f(new IoFile());
    f->path_ = path;
    if (opt.backend == IoBackend::Auto)
        if (const char* e = std::getenv("ENGRAM_IO_BACKEND"); e && *e && !parse_io_backend(e, &opt.backend))
            EG_LOG_WARN("ENGRAM_IO_BACKEND={} is not auto, io_uring or pread; ignored", e);

    if (opt.direct) {
        f->fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_DIRECT);
        f->direct_ = f->fd_ >= 0;
        if (f->fd_ < 0 && errno != EINVAL) return make_error(path + ": cannot open: " + errno_text(errno));
    }
    if (f->fd_ < 0) {
        f->fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (f->fd_ < 0) return make_error(path + ": cannot open: " + errno_text(errno));
    }
    struct stat st{};
    if (::fstat(f->fd_, &st) != 0) return make_error(path + ": cannot stat: " + errno_text(errno));
    f->size_ = (uint64_t)st.st_size;
    // Some file systems accept O_DIRECT at open and refuse the first read.
    if (f->direct_ && f->size_ > 0) {
        AlignedBuffer probe;
        uint8_t* p = probe.get(kAlign);
        if (!p) return make_error(path + ": cannot allocate a read buffer");
        if (::pread(f->fd_, p, kAlign, 0) < 0 && errno == EINVAL) {
            ::close(f->fd_);
            f->direct_ = false;
            f->fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
            if (f->fd_ < 0) return make_error(path + ": cannot open: " + errno_text(errno));
        }
    }
    if (!f->direct_) ::posix_fadvise(f->fd_, 0, 0, POSIX_FADV_RANDOM);
    if (opt.direct && !f->direct_)
        EG_LOG_WARN("{}: the file system refuses O_DIRECT; buffered reads with POSIX_FADV_DONTNEED", path);

    f->backend_ = IoBackend::Pread;
    if (opt.backend != IoBackend::Pread) {
        std::string why = uring_problem(f->fd_, f->size_);
        if (why.empty()) {
            f->backend_ = IoBackend::Uring;
        } else if (opt.backend == IoBackend::Uring) {
            return make_error(path + ": io_uring was asked for and cannot read here: " + why);
        } else {
            f->fallback_reason_ = why;
            EG_LOG_WARN("{}: io_uring unavailable ({}); reading with pread", path, why);
        }
    }
    return f;
}

struct BatchReader::Impl {
    unsigned depth = 64;
    bool ring_tried = false, ring_ok = false;
    bool poisoned = false;  // a ring that could not be drained: its memory is never freed
#ifdef EG_HAVE_LIBURING
    io_uring ring{};
    bool file_registered = false;  // the file is the ring's fixed file 0
    // The bounce buffer, registered with the ring (READ_FIXED: its pages are
    // not pinned and unpinned per read), where the locked-memory limit lets it.
    uint8_t* registered = nullptr;
    size_t registered_len = 0;
    bool register_refused = false;  // do not ask again
#endif
    AlignedBuffer bounce;
    uint64_t bounce_used = 0;
    std::vector<uint32_t> order;  // requests with bytes, sorted by offset

    // One read: file bytes [off, off + len) into buf; the requests
    // order[first, first + count) take their bytes from it. need: bytes from
    // off on that a request needs (O_DIRECT reads whole blocks; the file's
    // last block may end early).
    struct Piece {
        uint64_t off = 0, len = 0, need = 0;
        uint8_t* buf = nullptr;
        uint32_t first = 0, count = 0;
        bool bounce = false;
    };
    std::vector<Piece> pieces;
};

BatchReader::BatchReader(std::shared_ptr<const IoFile> file, unsigned queue_depth)
    : file_(std::move(file)), impl_(std::make_unique<Impl>()) {
    impl_->depth = std::clamp(queue_depth, 1u, 4096u);
}

BatchReader::~BatchReader() {
#ifdef EG_HAVE_LIBURING
    if (impl_->ring_ok) io_uring_queue_exit(&impl_->ring);
#endif
    if (impl_->poisoned) impl_->bounce.leak();
}

IoBackend BatchReader::backend() const {
    if (file_->backend() != IoBackend::Uring) return IoBackend::Pread;
    if (impl_->ring_tried && !impl_->ring_ok) return IoBackend::Pread;
    return IoBackend::Uring;
}

Status BatchReader::read(std::span<const ReadRequest> reqs, const MergeOptions& merge, ReadFailure* failure) {
    Impl& im = *impl_;
    const IoFile& f = *file_;
    const bool direct = f.direct();
    const int fd = f.fd();
    const uint64_t cpu0 = thread_cpu_ns();
    counters_.requests += reqs.size();
    if (im.poisoned) return make_error(f.path() + ": an earlier read through io_uring could not be completed");

    // Requests by offset; joined into spans; spans cut into pieces.
    im.order.clear();
    for (uint32_t i = 0; i < reqs.size(); ++i)
        if (reqs[i].length > 0) im.order.push_back(i);
    std::sort(im.order.begin(), im.order.end(), [&](uint32_t a, uint32_t b) {
        return reqs[a].offset != reqs[b].offset ? reqs[a].offset < reqs[b].offset : a < b;
    });
    // Pieces of at most 1 GiB (a read's length is 32-bit in io_uring).
    const uint64_t read_max = std::clamp<uint64_t>(merge.max_read_bytes, 1, 1ULL << 30);
    const uint64_t piece_max = direct ? std::max(kAlign, align_down(read_max)) : read_max;
    auto lo = [&](const ReadRequest& r) { return direct ? align_down(r.offset) : r.offset; };
    auto hi = [&](const ReadRequest& r) { return direct ? align_up(r.offset + r.length) : r.offset + r.length; };
    im.pieces.clear();
    uint64_t bounce_max = 0;  // the largest bounce piece
    for (size_t i = 0; i < im.order.size();) {
        const ReadRequest& r = reqs[im.order[i]];
        const uint64_t s = lo(r);
        uint64_t e = hi(r), need_end = r.offset + r.length;
        size_t j = i + 1;
        for (; j < im.order.size(); ++j) {
            const ReadRequest& q = reqs[im.order[j]];
            if (lo(q) > e + merge.max_gap) break;
            const uint64_t ne = std::max(e, hi(q));
            if (ne - s > read_max) break;
            e = ne;
            need_end = std::max(need_end, q.offset + q.length);
        }
        // One request that can be read straight into its destination.
        const bool zero_copy =
            j == i + 1 &&
            (!direct || (is_aligned(r.offset) && is_aligned(r.length) && is_aligned((uint64_t)(uintptr_t)r.dst)));
        for (uint64_t p = s; p < e; p += piece_max) {
            Impl::Piece pc;
            pc.off = p;
            pc.len = std::min(piece_max, e - p);
            pc.need = std::min(pc.len, need_end > p ? need_end - p : 0);
            pc.first = (uint32_t)i;
            pc.count = (uint32_t)(j - i);
            pc.bounce = !zero_copy;
            if (zero_copy) pc.buf = r.dst + (p - r.offset);
            else bounce_max = std::max(bounce_max, pc.len);
            im.pieces.push_back(pc);
        }
        i = j;
    }
    if (im.pieces.empty()) return {};
    if (bounce_max > 0 && !im.bounce.get(std::max(kBounceBytes, align_up(bounce_max)))) {
        counters_.cpu_ns += thread_cpu_ns() - cpu0;
        return make_error(f.path() + ": cannot allocate a read buffer of " + std::to_string(bounce_max) + " bytes");
    }
    im.bounce_used = 0;

    std::string error;
    size_t failed = SIZE_MAX;
    auto fail = [&](const Impl::Piece& p, std::string why) {
        if (!error.empty()) return;
        error = std::move(why);
        failed = im.order[p.first];
    };
    // A bounce-buffered piece's bytes go to its requests.
    auto copy_out = [&](const Impl::Piece& p) {
        if (!p.bounce) return;
        for (uint32_t k = p.first; k < p.first + p.count; ++k) {
            const ReadRequest& q = reqs[im.order[k]];
            const uint64_t a = std::max(q.offset, p.off), b = std::min(q.offset + q.length, p.off + p.len);
            if (a < b) std::memcpy(q.dst + (a - q.offset), p.buf + (a - p.off), b - a);
        }
    };
    // The rest of a piece that came back short (or whose read must be
    // retried), with pread; false when the file ends first or a read fails.
    auto finish_sync = [&](const Impl::Piece& p, uint64_t done) {
        while (done < p.need) {
            // O_DIRECT reads come back short only at the end of the file.
            if (direct && !is_aligned(done)) break;
            const ssize_t r = ::pread(fd, p.buf + done, p.len - done, (off_t)(p.off + done));
            ++counters_.syscalls;
            if (r < 0) {
                if (errno == EINTR) continue;
                fail(p, "read of " + bytes_range(p.off + done, p.off + p.len) + " failed: " + errno_text(errno));
                return false;
            }
            if (r == 0) break;
            done += (uint64_t)r;
        }
        if (done < p.need) {
            struct stat st{};
            const uint64_t size = ::fstat(fd, &st) == 0 ? (uint64_t)st.st_size : 0;
            fail(p, "file ends at byte " + std::to_string(size) + ", a read needs bytes up to " +
                        std::to_string(p.off + p.need) + " (file truncated?)");
            return false;
        }
        counters_.bytes += done;
        return true;
    };
    auto completed = [&](const Impl::Piece& p) {
        copy_out(p);
        if (!direct) {
            ::posix_fadvise(fd, (off_t)p.off, (off_t)p.len, POSIX_FADV_DONTNEED);
            ++counters_.syscalls;
        }
    };

#ifdef EG_HAVE_LIBURING
    if (f.backend() == IoBackend::Uring && !im.ring_tried) {
        im.ring_tried = true;
        const int r = init_ring(&im.ring, im.depth);
        im.ring_ok = r >= 0;
        if (im.ring_ok) im.file_registered = io_uring_register_files(&im.ring, &fd, 1) == 0;
        if (!im.ring_ok) {
            static std::atomic<bool> said{false};
            if (!said.exchange(true))
                EG_LOG_WARN("{}: cannot set up an io_uring for a reader ({}); it reads with pread", f.path(),
                            errno_text(-r));
        }
    }
    if (f.backend() == IoBackend::Uring && im.ring_ok) {
        if (bounce_max > 0 && !im.register_refused &&
            (im.registered != im.bounce.get(0) || im.registered_len != im.bounce.size())) {
            if (im.registered) io_uring_unregister_buffers(&im.ring);
            iovec iov{im.bounce.get(0), im.bounce.size()};
            const bool ok = io_uring_register_buffers(&im.ring, &iov, 1) == 0;
            im.registered = ok ? im.bounce.get(0) : nullptr;
            im.registered_len = ok ? im.bounce.size() : 0;
            im.register_refused = !ok;
        }
        size_t next = 0, inflight = 0;
        const size_t bounce_cap = im.bounce.size();
        while (next < im.pieces.size() || inflight > 0) {
            // Queue what the ring and the bounce buffer take.
            while (next < im.pieces.size() && error.empty() && inflight < im.depth) {
                Impl::Piece& p = im.pieces[next];
                // A bounce-buffered piece waits for room (the pieces in flight to finish).
                if (p.bounce && im.bounce_used + align_up(p.len) > bounce_cap) break;
                io_uring_sqe* sqe = io_uring_get_sqe(&im.ring);
                if (!sqe) break;
                if (p.bounce) {
                    p.buf = im.bounce.get(0) + im.bounce_used;
                    im.bounce_used += align_up(p.len);
                }
                const int target = im.file_registered ? 0 : fd;
                if (p.bounce && im.registered) io_uring_prep_read_fixed(sqe, target, p.buf, (unsigned)p.len, p.off, 0);
                else io_uring_prep_read(sqe, target, p.buf, (unsigned)p.len, p.off);
                if (im.file_registered) sqe->flags |= IOSQE_FIXED_FILE;
                io_uring_sqe_set_data64(sqe, next);
                ++next;
                ++inflight;
                ++counters_.reads;
            }
            if (inflight == 0) {
                // An error stopped the queueing and nothing is left; never
                // otherwise (an empty ring has its whole bounce buffer).
                if (error.empty()) fail(im.pieces[next], "cannot queue a read (internal error)");
                break;
            }
            // Everything queued: one wait for all of it; else for the first
            // completion, to queue more behind it.
            const unsigned want = next == im.pieces.size() || !error.empty() ? (unsigned)inflight : 1u;
            int s;
            do {
                s = io_uring_submit_and_wait(&im.ring, want);
                ++counters_.syscalls;
            } while (s == -EINTR || s == -EAGAIN || s == -EBUSY);
            if (s < 0) {
                // The kernel refused to take or reap reads it may be running:
                // nothing may free their buffers now.
                im.poisoned = true;
                if (error.empty()) {
                    error = "io_uring_enter failed: " + errno_text(-s);
                    failed = im.order[im.pieces[0].first];
                }
                break;
            }
            unsigned head, seen = 0;
            io_uring_cqe* cqe;
            io_uring_for_each_cqe(&im.ring, head, cqe) {
                ++seen;
                --inflight;
                const Impl::Piece& p = im.pieces[(size_t)io_uring_cqe_get_data64(cqe)];
                const int res = cqe->res;
                if (!error.empty()) continue;  // draining after a failure
                bool ok;
                if (res >= 0 && (uint64_t)res >= p.need) {
                    counters_.bytes += (uint64_t)res;
                    ok = true;
                } else if (res == -EAGAIN || res == -EINTR) {
                    ok = finish_sync(p, 0);
                } else if (res < 0) {
                    fail(p, "read of " + bytes_range(p.off, p.off + p.len) + " failed: " + errno_text(-res));
                    ok = false;
                } else {
                    ok = finish_sync(p, (uint64_t)res);
                }
                if (ok) completed(p);
            }
            io_uring_cq_advance(&im.ring, seen);
            if (inflight == 0) im.bounce_used = 0;
        }
    } else
#endif
    {
        for (Impl::Piece& p : im.pieces) {
            if (p.bounce) p.buf = im.bounce.get(0);
            ++counters_.reads;
            if (!finish_sync(p, 0)) break;
            completed(p);
        }
    }
    counters_.cpu_ns += thread_cpu_ns() - cpu0;
    if (error.empty()) return {};
    if (failure) {
        failure->request = failed;
        failure->reason = error;
    }
    return make_error(f.path() + ": " + error);
}

}  // namespace eg::tier
