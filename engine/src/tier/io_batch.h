// Batched reads of one file: many (offset, length, destination) requests of
// any size per call — Engram rows of a few hundred bytes, MoE experts of
// megabytes — issued as few reads as possible. Requests whose bytes share or
// adjoin a 4 KiB block (or lie within a chosen gap) join one read; reads go
// out together through io_uring (liburing) where the kernel allows it, and
// one pread at a time where it does not (no io_uring in the kernel, refused
// by a seccomp filter, or built without liburing): detected at open, said in
// one log line.
//
// With O_DIRECT (the SSD tier must be the SSD, not the page cache) reads are
// 4096-aligned: a request is read straight into its destination when its
// offset, length and destination are all aligned, else through the reader's
// aligned bounce buffer and copied out.
//
// An IoFile is shared by threads; each thread reads through its own
// BatchReader (a ring, a bounce buffer, scratch), which is not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/result.h"

namespace eg::tier {

enum class IoBackend {
    Auto,   // io_uring when it works here, else pread
    Uring,  // io_uring, or fail at open
    Pread,  // pread, one read per system call
};
const char* io_backend_name(IoBackend b);  // "auto", "io_uring", "pread"
// "auto", "io_uring" (or "uring"), "pread"; false for anything else.
bool parse_io_backend(const std::string& s, IoBackend* out);

struct IoFileOptions {
    bool direct = true;                   // O_DIRECT, where the file system takes it
    IoBackend backend = IoBackend::Auto;  // the environment variable ENGRAM_IO_BACKEND overrides Auto
};

// One read request: file bytes [offset, offset + length) into dst.
struct ReadRequest {
    uint64_t offset = 0;
    uint64_t length = 0;
    uint8_t* dst = nullptr;
};

// How a call's requests become reads.
struct MergeOptions {
    // Requests at most this many bytes apart join one read (the bytes between
    // are read and dropped). 0: only requests that share or adjoin bytes —
    // with O_DIRECT, 4096-byte blocks — join.
    uint64_t max_gap = 0;
    // A joined read grows no larger than this; a single larger request is
    // read in pieces of this size, all in flight together.
    uint64_t max_read_bytes = 1ULL << 20;
};

// What a reader did, summed over its calls.
struct IoCounters {
    uint64_t requests = 0;  // requests asked for
    uint64_t reads = 0;     // reads issued to the file
    uint64_t syscalls = 0;  // system calls that issued and reaped them
    uint64_t bytes = 0;     // bytes the reads delivered
    uint64_t cpu_ns = 0;    // CPU time of the calling threads inside read() (thread clocks)
};

// Where a failed call failed: the first request of the first read that
// failed, and why (a sentence without the file's name; the Status names it).
struct ReadFailure {
    size_t request = SIZE_MAX;
    std::string reason;
};

class IoFile {
public:
    // Opens the file read-only. O_DIRECT that the file system refuses (at
    // open or at the first read) falls back to buffered reads, with a
    // warning; io_uring that is missing or refused falls back to pread with
    // one log line, unless options.backend is Uring (then it is an error).
    static Result<std::shared_ptr<IoFile>> open(const std::string& path, IoFileOptions options);
    ~IoFile();
    IoFile(const IoFile&) = delete;
    IoFile& operator=(const IoFile&) = delete;

    const std::string& path() const { return path_; }
    int fd() const { return fd_; }
    bool direct() const { return direct_; }      // O_DIRECT in effect
    IoBackend backend() const { return backend_; }  // Uring or Pread
    // Why the backend is pread when io_uring was allowed; "" otherwise.
    const std::string& fallback_reason() const { return fallback_reason_; }
    uint64_t size_at_open() const { return size_; }

private:
    IoFile() = default;
    std::string path_;
    int fd_ = -1;
    bool direct_ = false;
    IoBackend backend_ = IoBackend::Pread;
    std::string fallback_reason_;
    uint64_t size_ = 0;
};

class BatchReader {
public:
    // queue_depth: reads in flight at once (io_uring). The ring is set up at
    // the first read(); a ring that cannot be set up then (e.g. locked-memory
    // limits) makes this reader use pread, said once in the log.
    explicit BatchReader(std::shared_ptr<const IoFile> file, unsigned queue_depth = 64);
    ~BatchReader();
    BatchReader(const BatchReader&) = delete;
    BatchReader& operator=(const BatchReader&) = delete;

    // Reads every request (in any order; they may overlap; empty ones are
    // skipped) and returns when all are done. On failure every read already
    // issued has completed before the return, some destinations may hold
    // their bytes and others not, and the Status names the file, the bytes
    // and the cause (I/O error, file shorter than the request, ...).
    Status read(std::span<const ReadRequest> requests, const MergeOptions& merge = {},
                ReadFailure* failure = nullptr);

    const IoCounters& counters() const { return counters_; }
    // What this reader uses: Uring, or Pread (the file's backend, or this
    // reader's fallback).
    IoBackend backend() const;
    const IoFile& file() const { return *file_; }

private:
    struct Impl;
    std::shared_ptr<const IoFile> file_;
    std::unique_ptr<Impl> impl_;
    IoCounters counters_;
};

}  // namespace eg::tier
