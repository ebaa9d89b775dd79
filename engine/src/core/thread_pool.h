// A persistent pool of worker threads for data-parallel kernels: threads are
// created once and woken per job, so the decode loop spawns nothing.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace eg {

class ThreadPool {
public:
    // n_threads counts the calling thread: a pool of 1 runs jobs inline.
    explicit ThreadPool(int n_threads);
    ~ThreadPool();
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    int size() const { return n_threads_; }

    // Runs fn(ith, nth) on every thread (ith in [0, nth)) and returns when all
    // are done. The caller is thread 0.
    void run(const std::function<void(int ith, int nth)>& fn);

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
    void worker(int ith);

    int n_threads_;
    std::vector<std::thread> threads_;
    std::mutex mu_;
    std::condition_variable cv_;
    const std::function<void(int, int)>* job_ = nullptr;
    uint64_t generation_ = 0;
    std::atomic<int> pending_{0};
    std::atomic<uint64_t> spin_generation_{0};
    bool stop_ = false;
};

// Physical cores of this machine (hyper-threads not counted), at least 1.
int physical_core_count();

}  // namespace eg
