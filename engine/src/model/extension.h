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
#include "quant/types.h"

namespace eg {

class Model;
class ThreadPool;

// A weight matrix as mapped from the file (cpu/matmul.h).
struct WeightView;

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

// A module in the form a GPU backend runs (engram/src/module.cpp is the CPU
// form; DESIGN.md §4): each position reads rows_per_token rows of a table,
// whose concatenation e [E = rows_per_token * row_values] is projected to a
// key and a value; the gate g = sigmoid(sign(s) sqrt(max(|s|, 1e-6))), with
// s = <rms(x)*q_norm, rms(key)*k_norm> / sqrt(n_embd), scales the value, and
// with a conv, out = g*value + SiLU(causal depthwise conv over the positions'
// rms(g*value)*conv_norm, dilated); x += out.
struct LookupModule {
    int64_t layer = 0;
    // The table.
    GgmlType row_type = GgmlType::F16;
    int64_t row_values = 0;          // values per row
    uint64_t row_bytes = 0;
    uint64_t n_rows = 0;
    int64_t rows_per_token = 0;
    uint64_t table_bytes() const { return n_rows * row_bytes; }
    int64_t gathered_width() const { return rows_per_token * row_values; }
    // The compute: either wkv [E -> 2*n_embd] (key then value) or key and
    // value [E -> n_embd] with optional biases; norms [n_embd].
    const WeightView* wkv = nullptr;
    const WeightView* key = nullptr;
    const WeightView* value = nullptr;
    const float* key_bias = nullptr;
    const float* value_bias = nullptr;
    const float* q_norm = nullptr;
    const float* k_norm = nullptr;
    const float* conv = nullptr;       // [n_embd][conv_kernel], or null: no conv
    const float* conv_norm = nullptr;  // [n_embd]
    int64_t conv_kernel = 0, conv_dilation = 1;
    float eps = 1e-5f;
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

    // --- Running a module on a GPU -----------------------------------------
    // A module whose rows a GPU backend gathers from its own VRAM row cache
    // and whose compute it runs itself: the extension keeps what only it
    // knows (which rows a position reads; the DRAM/SSD tiers that hold them),
    // the backend the rest. nullptr: block il has none, or it runs on the
    // CPU through apply(). The description stays valid while the model lives.
    virtual const LookupModule* lookup_module(int64_t il) const {
        (void)il;
        return nullptr;
    }
    // The row ids block il reads for positions pos0 .. pos0+n_tok (already
    // prepared): ids [n_tok * rows_per_token], position-major, each < n_rows.
    // Cheap (hashing); no row is read.
    virtual Status lookup_rows(ExtensionState& st, int64_t il, int64_t n_tok, int64_t pos0, uint64_t* ids) {
        (void)st, (void)il, (void)n_tok, (void)pos0, (void)ids;
        return Error{"this extension runs its modules on the CPU only"};
    }
    // The bytes of rows want[0..n) of block il's table (row_bytes each, into
    // dst), for the positions of the last lookup_rows(): those prepare()
    // fetched ahead, waiting for any still on their way, and any other row
    // from the DRAM tier or the file at once. Call it once after each
    // lookup_rows(), also with n = 0: it consumes those positions' rows.
    virtual Status read_rows(ExtensionState& st, int64_t il, int64_t n_tok, int64_t pos0, const uint64_t* want,
                             size_t n, uint8_t* dst) {
        (void)st, (void)il, (void)n_tok, (void)pos0, (void)want, (void)n, (void)dst;
        return Error{"this extension runs its modules on the CPU only"};
    }
    // A GPU backend caching block il's rows tells a sequence's state which
    // rows it holds now: prepare() then fetches only the others ahead (a row
    // evicted meanwhile is read by read_rows() when asked for). nullptr:
    // fetch every row.
    virtual void set_device_rows(ExtensionState& st, int64_t il, std::function<bool(uint64_t row)> holds) {
        (void)st, (void)il, (void)holds;
    }
};

// Builds the extension a model file asks for (e.g. Engram), after the base
// model has loaded. Returns nullptr when the file has none.
using ExtensionLoader = std::function<Result<std::unique_ptr<ModelExtension>>(const Model&)>;

}  // namespace eg
