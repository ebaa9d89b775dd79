// One conversation's inference state: the KV cache, the tokens it holds and
// the scratch of the forward pass. eval() appends tokens (prefill in batches);
// truncate() rolls the cache back so a shared prefix is never computed twice.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "core/thread_pool.h"
#include "backend/backend.h"
#include "model/decoder.h"
#include "model/expert_tier.h"
#include "model/model.h"
#include "runtime/throughput.h"

namespace eg {

// A contiguous range of blocks [first, last) and the device that runs it:
// "cpu" or "cuda:N".
struct BlockRange {
    std::string device = "cpu";
    int64_t first = 0, last = 0;
    bool operator==(const BlockRange&) const = default;
};

struct SessionOptions {
    SessionOptions() = default;
    SessionOptions(int64_t ctx, int64_t batch, int threads) : n_ctx(ctx), n_batch(batch), n_threads(threads) {}

    int64_t n_ctx = 0;      // 0: the model's training context, capped at 4096
    int64_t n_batch = 512;  // tokens per prefill step
    int n_threads = 0;      // 0: physical cores
    // Blocks per device, in order, covering every block once; empty: all on
    // the CPU. The activations cross between ranges once per step.
    std::vector<BlockRange> split;
    std::string output_device;  // the output head; "": the last range's device
    // VRAM for the hot rows of the Engram tables whose modules run on a GPU
    // (the planner's Engram "vram" bytes); each table gets at least the rows
    // of one batch whatever this says.
    uint64_t engram_vram_bytes = 0;
    // DRAM for a MoE model's experts (model/expert_tier.h): what does not fit
    // is read from the file on demand. Unset, or at least all the experts:
    // they stay mapped (and packed where the CPU packs), as dense weights.
    std::optional<uint64_t> expert_dram_bytes;
    tier::PolicyKind expert_policy = tier::PolicyKind::WTinyLfu;
};

// Bytes the session holds, by category.
struct SessionMemory {
    // Weights held: the backends' (packed copies, uploads, mapped tensors)
    // and the mapped tensors no backend holds (token table, extension).
    uint64_t weights_bytes = 0;
    uint64_t file_weights_bytes = 0;  // the model's and its extension's weights as the file stores them
    uint64_t kv_bytes = 0;
    uint64_t scratch_bytes = 0;
    uint64_t extension_bytes = 0;  // Engram: resident rows + per-sequence state
    std::vector<DeviceMemory> devices;  // the same by device (one entry per range)

    // Mapped weights no backend holds — the token table (unless it is a head
    // read from the file), rope factors, an extension's own weights (the
    // Engram modules) — read from host memory.
    uint64_t host_only_weights_bytes() const {
        uint64_t held = 0;
        for (const DeviceMemory& d : devices) held += d.weights_file_bytes;
        return file_weights_bytes > held ? file_weights_bytes - held : 0;
    }
};

class Session {
public:
    static Result<std::unique_ptr<Session>> create(const Model& model, SessionOptions opt);

    const Model& model() const { return model_; }
    int64_t n_ctx() const { return n_ctx_; }
    int64_t n_past() const { return (int64_t)tokens_.size(); }
    const std::vector<int32_t>& tokens() const { return tokens_; }
    int n_threads() const { return pool_.size(); }

    // Appends tokens and runs them; afterwards logits() are those after the
    // last token. Fails (changing nothing) when they do not fit the context
    // or the model's extension cannot read its tables.
    Status eval(const int32_t* tokens, int64_t n);
    Status eval(const std::vector<int32_t>& t) { return eval(t.data(), (int64_t)t.size()); }
    // The same, and all_logits [n, n_vocab] gets the logits after each of the
    // n tokens (the output head runs once per position): what perplexity and
    // per-position accuracy need. Row n - 1 is what logits() holds afterwards.
    Status eval(const int32_t* tokens, int64_t n, float* all_logits);

    const float* logits() const { return logits_.data(); }
    int64_t n_vocab() const { return model_.hparams().n_vocab; }

    // Forgets tokens from position n on (their cache entries are overwritten later).
    void truncate(int64_t n);
    // Number of leading tokens shared with `t`.
    int64_t common_prefix(const std::vector<int32_t>& t) const;

    SessionMemory memory() const;
    // The experts' tier, or null when the experts stay mapped.
    const ExpertTier* experts() const { return experts_.get(); }
    // The model extension's statistics (empty without one), with a "vram"
    // tier first when GPU backends cache its rows: distinct rows of a batch
    // found there (hits) or uploaded (misses, bytes_read), bytes held, slots.
    ExtensionStats extension_stats() const;
    // The block ranges as placed (device, first, last).
    std::vector<BlockRange> placement() const;
    void set_dump(TensorDumpFn fn) { dump_ = std::move(fn); }
    // Counters every eval() adds its tokens and time to (nullptr: none); they
    // must outlive the session or be reset here first.
    void set_counters(ThroughputCounters* c) { counters_ = c; }
    ThroughputCounters* counters() const { return counters_; }

private:
    Session(const Model& m, int64_t n_ctx, int64_t n_batch, int n_threads);
    Status check_tokens(const int32_t* tokens, int64_t n) const;

    const Model& model_;
    ThreadPool pool_;
    std::unique_ptr<ExpertTier> experts_;  // before the backends, which use it
    int64_t n_ctx_;
    std::vector<std::unique_ptr<LayerBackend>> backends_;
    LayerBackend* head_ = nullptr;
    std::vector<float> x_;       // [n_batch, n_embd] activations between backends
    std::vector<float> logits_;  // [n_vocab]
    int64_t n_batch_;
    std::vector<int32_t> tokens_;
    std::unique_ptr<ExtensionState> ext_state_;
    TensorDumpFn dump_;
    ThroughputCounters* counters_ = nullptr;
};

}  // namespace eg
