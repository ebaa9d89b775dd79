// Work done by a session, counted where it happens (Session::eval) and read
// from any thread: the memory panel samples these at a steady rate while the
// engine thread generates, without a lock and without stopping it.
#pragma once

#include <atomic>
#include <cstdint>

namespace eg {

struct ThroughputCounters {
    // An eval() of more than one token is prefill; a one-token step is
    // decode (the split llama.cpp's perf counters make too).
    std::atomic<uint64_t> prefill_tokens{0}, prefill_ns{0};
    std::atomic<uint64_t> decode_tokens{0}, decode_ns{0};
    std::atomic<int64_t> last_ttft_us{-1};  // time to first token of the last reply; -1: none yet

    struct Snapshot {
        uint64_t prefill_tokens = 0, prefill_ns = 0, decode_tokens = 0, decode_ns = 0;
        int64_t last_ttft_us = -1;
        double prefill_tokens_per_s() const { return prefill_ns ? prefill_tokens * 1e9 / (double)prefill_ns : 0.0; }
        double decode_tokens_per_s() const { return decode_ns ? decode_tokens * 1e9 / (double)decode_ns : 0.0; }
    };
    Snapshot snapshot() const {
        return {prefill_tokens.load(std::memory_order_relaxed), prefill_ns.load(std::memory_order_relaxed),
                decode_tokens.load(std::memory_order_relaxed), decode_ns.load(std::memory_order_relaxed),
                last_ttft_us.load(std::memory_order_relaxed)};
    }
    void add(bool prefill, int64_t n_tokens, uint64_t ns) {
        if (prefill) {
            prefill_tokens.fetch_add((uint64_t)n_tokens, std::memory_order_relaxed);
            prefill_ns.fetch_add(ns, std::memory_order_relaxed);
        } else {
            decode_tokens.fetch_add((uint64_t)n_tokens, std::memory_order_relaxed);
            decode_ns.fetch_add(ns, std::memory_order_relaxed);
        }
    }
};

// The rates between two snapshots: tokens over the time spent in that
// phase (not wall time), so an idle second does not dilute them. Zero when
// the phase did not run in between.
inline double prefill_rate(const ThroughputCounters::Snapshot& a, const ThroughputCounters::Snapshot& b) {
    const uint64_t ns = b.prefill_ns - a.prefill_ns;
    return ns ? (double)(b.prefill_tokens - a.prefill_tokens) * 1e9 / (double)ns : 0.0;
}
inline double decode_rate(const ThroughputCounters::Snapshot& a, const ThroughputCounters::Snapshot& b) {
    const uint64_t ns = b.decode_ns - a.decode_ns;
    return ns ? (double)(b.decode_tokens - a.decode_tokens) * 1e9 / (double)ns : 0.0;
}

}  // namespace eg
