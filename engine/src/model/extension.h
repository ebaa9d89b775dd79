// Layer additions that live outside the engine: the decoder calls them, the
// engine does not know what they are. The Engram modules (engram/) are one;
// the engine stays free of their tables, hashing and tiers.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/result.h"

namespace eg {

class Model;
class ThreadPool;

// Called with every named intermediate when set (see decoder.h).
using TensorDumpFn = std::function<void(const char* name, int64_t layer, const float* data, int64_t n_tok, int64_t n)>;

// Per-sequence state of an extension, kept beside the KV cache: positions
// [0, n_past) are valid, truncate() forgets the rest (prefix reuse).
class ExtensionState {
public:
    virtual ~ExtensionState() = default;
    virtual void truncate(int64_t n) = 0;
    virtual uint64_t bytes() const = 0;
};

// Figures of one memory tier of an extension's tables ("dram", "ssd", ...).
struct TierStats {
    std::string tier;
    uint64_t hits = 0;           // rows served from this tier
    uint64_t misses = 0;         // rows this tier did not have
    uint64_t bytes_read = 0;     // bytes read from this tier
    uint64_t bytes_resident = 0; // bytes this tier holds now
    uint64_t capacity_bytes = 0; // its budget
};

struct ExtensionStats {
    std::vector<TierStats> tiers;
    uint64_t stall_us = 0;       // time the forward waited for rows
    uint64_t lead_us = 0;        // sum over fetched rows of (needed - arrived)
    uint64_t rows_fetched = 0;   // rows that went through the fetch path
    uint64_t lookups = 0;        // row lookups (all tiers)
    uint64_t compute_us = 0;     // time spent in the extension's own compute
};

class ModelExtension {
public:
    virtual ~ModelExtension() = default;

    // A short description for logs and `info`.
    virtual std::string describe() const = 0;

    virtual std::unique_ptr<ExtensionState> new_state(int64_t n_ctx) const = 0;

    // Called by Session::eval as soon as the ids of tokens[0..n) at positions
    // pos0.. are known, before any layer runs: the extension may start
    // fetching what its layers will need. `tokens` may span several forward
    // batches; apply() is then called per batch in order.
    virtual void prepare(ExtensionState& st, const int32_t* tokens, int64_t n, int64_t pos0) = 0;

    // Whether the extension serves the token table itself (an untied model's
    // token_embd from the tiered store); then embed() writes n rows of n_embd
    // floats for the tokens of the batch about to run.
    virtual bool serves_embeddings() const = 0;
    virtual Status embed(ExtensionState& st, const int32_t* tokens, int64_t n, float* out) = 0;

    // Whether block il runs a module, and the module itself: adds its output
    // to x [n_tok, n_embd] (residual) for positions pos0.. before attention.
    virtual bool has_layer(int64_t il) const = 0;
    virtual Status apply(ExtensionState& st, int64_t il, float* x, int64_t n_tok, int64_t pos0, ThreadPool& pool,
                         const TensorDumpFn* dump) = 0;

    // Looks up the rows that tokens[0..n) would need, without computing
    // anything, so that the caches and their hot-row statistics learn a text
    // (e.g. `engram-cli engram-warm` over a user's documents).
    virtual Status warm(const int32_t* tokens, int64_t n) = 0;

    // Blocks until background work started at load (warming the caches from
    // saved statistics) is done; benchmarks call it before timing.
    virtual void wait_idle() const = 0;

    virtual ExtensionStats stats() const = 0;

    // Bytes of the extension's own weights (mapped from the file and read on
    // the CPU, e.g. the Engram modules' projections and norms); the tables
    // its tiers serve are not weights.
    virtual uint64_t weight_bytes() const { return 0; }

    // The n most-read rows over all tables, hottest first: how often each was
    // read and whether DRAM holds it now (the memory panel's heat strip).
    // Empty when the extension keeps no counts. Safe from any thread; it
    // walks the counts, so call it a few times a second at most.
    struct HotRow {
        uint32_t count = 0;
        bool resident = false;
    };
    virtual std::vector<HotRow> hottest(size_t n) const {
        (void)n;
        return {};
    }
    // Resident bytes the extension holds in DRAM (its caches; not the mapping).
    virtual uint64_t resident_bytes() const = 0;
};

// Builds the extension a model file asks for (e.g. Engram), after the base
// model has loaded. Returns nullptr when the file has none.
using ExtensionLoader = std::function<Result<std::unique_ptr<ModelExtension>>(const Model&)>;

}  // namespace eg
