#include "core/thread_pool.h"

#include <fstream>
#include <set>
#include <string>
#include <utility>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace eg {

namespace {
inline void cpu_relax() {
#if defined(__x86_64__)
    _mm_pause();
#endif
}
}  // namespace

ThreadPool::ThreadPool(int n_threads) : n_threads_(n_threads < 1 ? 1 : n_threads) {
    threads_.reserve(n_threads_ - 1);
    for (int i = 1; i < n_threads_; ++i) threads_.emplace_back([this, i] { worker(i); });
}

ThreadPool::~ThreadPool() {
    {
        std::lock_guard<std::mutex> lock(mu_);
        stop_ = true;
        spin_generation_.store(UINT64_MAX, std::memory_order_release);
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
}

void ThreadPool::run(const std::function<void(int, int)>& fn) {
    if (n_threads_ == 1) {
        fn(0, 1);
        return;
    }
    {
        std::lock_guard<std::mutex> lock(mu_);
        job_ = &fn;
        pending_.store(n_threads_ - 1, std::memory_order_relaxed);
        ++generation_;
        spin_generation_.store(generation_, std::memory_order_release);
    }
    cv_.notify_all();
    fn(0, n_threads_);
    // Kernels are short: spin until the workers are done rather than sleep.
    while (pending_.load(std::memory_order_acquire) != 0) cpu_relax();
}

void ThreadPool::worker(int ith) {
    uint64_t seen = 0;
    for (;;) {
        // Spin briefly for the next job (back-to-back kernels), then sleep.
        bool have = false;
        for (int i = 0; i < 20000; ++i) {
            if (spin_generation_.load(std::memory_order_acquire) != seen) { have = true; break; }
            cpu_relax();
        }
        const std::function<void(int, int)>* job = nullptr;
        {
            std::unique_lock<std::mutex> lock(mu_);
            if (!have) cv_.wait(lock, [&] { return stop_ || generation_ != seen; });
            if (stop_) return;
            seen = generation_;
            job = job_;
        }
        (*job)(ith, n_threads_);
        pending_.fetch_sub(1, std::memory_order_acq_rel);
    }
}

int physical_core_count() {
    // Count distinct (physical id, core id) pairs; fall back to hardware_concurrency.
    std::ifstream in("/proc/cpuinfo");
    std::set<std::pair<std::string, std::string>> cores;
    std::string line, phys = "0";
    while (std::getline(in, line)) {
        auto colon = line.find(':');
        if (colon == std::string::npos) continue;
        std::string key = line.substr(0, line.find_first_of(" \t"));
        std::string val = colon + 2 <= line.size() ? line.substr(colon + 2) : "";
        if (key == "physical") phys = val;
        else if (key == "core" && line.rfind("core id", 0) == 0) cores.insert({phys, val});
    }
    int n = (int)cores.size();
    if (n <= 0) n = (int)std::thread::hardware_concurrency();
    return n < 1 ? 1 : n;
}

}  // namespace eg
