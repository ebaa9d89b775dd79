#include "core/thread_pool.h"

#include <chrono>
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

using Clock = std::chrono::steady_clock;
// How long an idle thread spins before it sleeps: longer than the gap between
// two kernels of a decode step, far shorter than a scheduler time slice.
constexpr auto kSpin = std::chrono::microseconds(50);

// Spins until pred() or kSpin has passed; returns pred().
template <class P>
bool spin_until(P pred) {
    const auto t0 = Clock::now();
    for (int i = 1;; ++i) {
        if (pred()) return true;
        cpu_relax();
        if (i % 64 == 0 && Clock::now() - t0 > kSpin) return pred();
    }
}

constexpr uint64_t pack_claim(uint32_t gen, uint32_t n, uint32_t next) {
    return (uint64_t)gen << 32 | (uint64_t)n << 16 | next;
}

}  // namespace

ThreadPool::ThreadPool(int n_threads) : n_threads_(n_threads < 1 ? 1 : n_threads) {
    threads_.reserve(n_threads_ - 1);
    for (int i = 1; i < n_threads_; ++i) threads_.emplace_back([this] { worker(); });
}

ThreadPool::~ThreadPool() {
    stop_.store(true);
    generation_.fetch_add(1);
    generation_.notify_all();
    for (auto& t : threads_) t.join();
}

void ThreadPool::run(ChunkFn fn, int n_chunks) {
    n_chunks = n_chunks < 1 ? 1 : n_chunks > 65535 ? 65535 : n_chunks;
    if (n_threads_ == 1 || n_chunks == 1) {
        for (int i = 0; i < n_chunks; ++i) fn(i, n_chunks);
        return;
    }
    job_ = &fn;
    done_.store(0, std::memory_order_relaxed);
    const uint32_t g = ++gen_;
    claim_.store(pack_claim(g, (uint32_t)n_chunks, 0), std::memory_order_release);
    generation_.store(g);
    if (sleepers_.load() > 0) generation_.notify_all();
    work(g);
    // Every chunk is claimed; wait for those still running elsewhere.
    const uint32_t n = (uint32_t)n_chunks;
    if (!spin_until([&] { return done_.load(std::memory_order_acquire) == n; })) {
        caller_sleeping_.store(true);
        for (uint32_t d; (d = done_.load()) != n;) done_.wait(d);
        caller_sleeping_.store(false);
    }
}

void ThreadPool::work(uint32_t g) {
    uint64_t w = claim_.load(std::memory_order_acquire);
    for (;;) {
        const uint32_t n = (uint32_t)(w >> 16) & 0xffff, next = (uint32_t)w & 0xffff;
        if ((uint32_t)(w >> 32) != g || next >= n) return;
        // A successful claim of generation g means its caller is still
        // waiting, so its job is alive.
        if (!claim_.compare_exchange_weak(w, w + 1, std::memory_order_acq_rel, std::memory_order_acquire)) continue;
        (*job_)((int)next, (int)n);
        if (done_.fetch_add(1) + 1 == n && caller_sleeping_.load()) done_.notify_one();
        w = claim_.load(std::memory_order_acquire);
    }
}

void ThreadPool::worker() {
    uint32_t seen = 0;
    for (;;) {
        if (!spin_until([&] { return generation_.load(std::memory_order_acquire) != seen; })) {
            sleepers_.fetch_add(1);
            for (uint32_t g; (g = generation_.load()) == seen;) generation_.wait(g);
            sleepers_.fetch_sub(1);
        }
        if (stop_.load()) return;
        seen = generation_.load(std::memory_order_acquire);
        work(seen);
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
