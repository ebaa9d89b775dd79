// The experts of a mixture-of-experts model in the memory tiers: a DRAM
// cache of a budget the user sets, the rest read from the model file on
// demand. The same replacement policy (tier/policy.h: W-TinyLFU or LRU) and
// the same batched reads (tier/io_batch.h: io_uring, O_DIRECT) as the Engram
// rows. The unit is one expert of one block: its gate, up and down slices,
// read as three requests of one batch.
//
// A block's router runs first; fetch() then gets every expert the batch
// chose at once: the cached ones from DRAM, the others in one batched read
// (those the policy admits into their slots, the others into a transient
// buffer for this call). The forward waits only for the experts not in DRAM.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "core/result.h"
#include "quant/weight_view.h"
#include "tier/io_batch.h"
#include "tier/policy.h"

namespace eg {

class Model;

// One expert's three matrices, ready for matmul.
struct ExpertWeights {
    WeightView gate, up, down;
};

struct ExpertTierOptions {
    uint64_t dram_bytes = 0;  // the cache's budget; what does not fit is read on demand
    tier::PolicyKind policy = tier::PolicyKind::WTinyLfu;
    bool direct_io = true;    // O_DIRECT: the SSD, not the page cache
    size_t trace_limit = 1 << 18;  // accesses kept for the optimal-cache comparison
};

struct ExpertTierStats {
    uint64_t capacity = 0;       // experts the DRAM cache holds at most
    uint64_t resident = 0;       // experts it holds now
    uint64_t expert_bytes = 0;   // one expert's bytes (the largest block's)
    uint64_t hits = 0;           // expert uses served from DRAM
    uint64_t misses = 0;         // expert uses read from the file
    uint64_t bytes_read = 0;     // bytes those reads delivered
    uint64_t stall_us = 0;       // time the forward waited for them
    uint64_t reads = 0, syscalls = 0;
    // The accesses kept for the optimum (the first trace_limit) and their hits.
    uint64_t traced = 0, traced_hits = 0;
    double hit_rate() const { return hits + misses ? (double)hits / (double)(hits + misses) : 0.0; }
    // The measured hit rate on the accesses optimal_hit_rate() replays.
    double traced_hit_rate() const { return traced ? (double)traced_hits / (double)traced : 0.0; }
};

class ExpertTier {
public:
    // For every MoE block of m. Fails naming the file when it cannot be read.
    static Result<std::unique_ptr<ExpertTier>> open(const Model& m, const ExpertTierOptions& o);
    ~ExpertTier();

    // The experts ids[0..n) of block il (distinct, each < n_expert) into
    // out[0..n), resident until the next fetch. Not reentrant: the CPU
    // backend calls it from its forward, one block at a time.
    Status fetch(int64_t il, std::span<const int32_t> ids, ExpertWeights* out);
    // The same in two steps: begin() places every expert (out[i] says where
    // its bytes are) and starts reading the missing ones in the background;
    // ready[i] is 1 for those already in DRAM, usable at once. finish()
    // waits for the others (the time counted as stall) and must follow
    // every successful begin() before the next.
    Status begin(int64_t il, std::span<const int32_t> ids, ExpertWeights* out, std::vector<char>& ready);
    Status finish();

    ExpertTierStats stats() const;
    // Hit rate of the best cache of this capacity on the accesses so far
    // (Belady's, tier/replay.h; the first trace_limit accesses), next to the
    // measured one. Recomputed when the trace has grown by a tenth, so that
    // a panel may ask a few times a second.
    double optimal_hit_rate() const;
    const char* policy_name() const;

    // The n most-used experts, busiest first: how often each ran and whether
    // DRAM holds it now (the memory panel's heat strip).
    struct Heat {
        int64_t layer = 0, expert = 0;
        uint64_t uses = 0;
        bool resident = false;
    };
    std::vector<Heat> hottest(size_t n) const;

private:
    ExpertTier() = default;
    struct Block {
        int64_t layer = -1;
        uint64_t off[3] = {};         // file offsets of the stacks (gate, up, down)
        uint64_t slice[3] = {};       // one expert's bytes of each
        WeightView view[3];           // shape and type of one expert's matrix
    };
    uint8_t* slot(int64_t i) { return slots_.get() + (uint64_t)i * slot_bytes_; }
    ExpertWeights views(const Block& b, const uint8_t* base) const;

    const Model* model_ = nullptr;
    int64_t n_expert_ = 0;
    std::vector<int> block_of_;       // per layer: index into blocks_, or -1
    std::vector<Block> blocks_;
    uint64_t slot_bytes_ = 0;         // one expert, each slice rounded up to 4 KiB
    std::unique_ptr<uint8_t[], void (*)(void*)> slots_{nullptr, nullptr};
    std::unique_ptr<uint8_t[], void (*)(void*)> transient_{nullptr, nullptr};
    uint64_t transient_slots_ = 0;
    std::unique_ptr<tier::CachePolicy> policy_;
    std::shared_ptr<tier::IoFile> file_;
    std::unique_ptr<tier::BatchReader> reader_;
    ExpertTierOptions opt_;
    mutable std::mutex mu_;           // stats and trace, read from other threads
    ExpertTierStats st_;
    std::vector<uint64_t> trace_;
    std::vector<uint64_t> uses_;          // per key (layer * n_expert + expert)
    std::vector<char> resident_;          // per key, as of the last fetch
    // The fetch between begin() and finish().
    struct InFlight {
        int64_t layer = 0;
        std::vector<int32_t> ids;
        std::vector<bool> read, transient, hit;
        uint64_t hits = 0, bytes = 0;
        std::vector<uint64_t> evicted;
        std::vector<tier::ReadRequest> reqs;
        tier::IoCounters before;
    };
    InFlight flight_;
    bool in_flight_ = false;
    // The I/O thread: reads flight_.reqs when io_job_ is set, then clears it.
    void io_loop();
    std::thread io_thread_;
    std::mutex io_mu_;
    std::condition_variable io_cv_;
    bool io_job_ = false, io_stop_ = false;
    Status io_status_;
    mutable size_t optimal_at_ = 0;     // trace length of the cached optimum
    mutable double optimal_ = 0;
};

}  // namespace eg
