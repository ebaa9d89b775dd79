// A persistent pool of worker threads for data-parallel kernels: threads are
// created once and woken per job, so the decode loop spawns nothing.
//
// A job is split into chunks that threads claim one at a time, the caller
// included, so a worker the OS has not scheduled yet (the machine is busy
// with other programs, as a desktop always is) delays nothing: the others
// take its chunks. Idle threads spin only briefly, then sleep in the kernel
// (futex) until the next job; nobody spins while another process needs the
// core for long.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <type_traits>
#include <vector>

namespace eg {

// What ThreadPool::run calls: a non-owning reference to a callable
// void(int i, int n). Unlike std::function it never allocates (a kernel's
// lambda captures more than std::function keeps inline), so a decode step
// makes no heap allocation for its parallel jobs. The callable must outlive
// the call, as a lambda passed to run() does.
class ChunkFn {
public:
    template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, ChunkFn>>>
    ChunkFn(F&& f)  // NOLINT: converts from any callable, like std::function
        : obj_(const_cast<void*>(static_cast<const void*>(std::addressof(f)))),
          call_([](void* o, int i, int n) { (*static_cast<std::remove_reference_t<F>*>(o))(i, n); }) {}
    void operator()(int i, int n) const { call_(obj_, i, n); }

private:
    void* obj_;
    void (*call_)(void*, int, int);
};

class ThreadPool {
public:
    // n_threads counts the calling thread: a pool of 1 runs jobs inline.
    explicit ThreadPool(int n_threads);
    ~ThreadPool();
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    int size() const { return n_threads_; }

    // Runs fn(i, n) for every chunk i in [0, n) (n = n_chunks, default the
    // pool's size) on whichever threads claim them, and returns when all are
    // done. Chunks may run on any thread, several on one, so fn must use i
    // (not the thread) to pick its work and its scratch. The caller runs
    // chunks too. n_chunks is at most 65535.
    void run(ChunkFn fn) { run(fn, n_threads_); }
    void run(ChunkFn fn, int n_chunks);

    // Splits [0, n) into contiguous chunks, at most one per thread.
    template <class F>
    void parallel_for(int64_t n, F&& fn) {
        if (n <= 0) return;
        run([&](int ith, int nth) {
            const int64_t per = (n + nth - 1) / nth;
            const int64_t b = ith * per;
            const int64_t e = b + per < n ? b + per : n;
            if (b < e) fn(b, e);
        });
    }

private:
    void worker();
    // Claims and runs chunks of generation g until none are left.
    void work(uint32_t g);

    int n_threads_;
    std::vector<std::thread> threads_;
    const ChunkFn* job_ = nullptr;
    // generation (32 bits) | chunk count (16) | next chunk to claim (16)
    std::atomic<uint64_t> claim_{0};
    std::atomic<uint32_t> done_{0};        // chunks finished in this generation
    std::atomic<uint32_t> generation_{0};  // what sleeping workers wait on
    std::atomic<int> sleepers_{0};
    std::atomic<bool> caller_sleeping_{false};
    std::atomic<bool> stop_{false};
    uint32_t gen_ = 0;  // the caller's count of jobs
};

// Physical cores of this machine (hyper-threads not counted), at least 1.
int physical_core_count();

}  // namespace eg
