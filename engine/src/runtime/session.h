// One conversation's inference state: the KV cache, the tokens it holds and
// the scratch of the forward pass. eval() appends tokens (prefill in batches);
// truncate() rolls the cache back so a shared prefix is never computed twice.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "core/result.h"
#include "core/thread_pool.h"
#include "model/decoder.h"
#include "model/model.h"
#include "runtime/kv_cache.h"

namespace eg {

struct SessionOptions {
    int64_t n_ctx = 0;      // 0: the model's training context, capped at 4096
    int64_t n_batch = 512;  // tokens per prefill step
    int n_threads = 0;      // 0: physical cores
};

// Bytes the session holds, by category.
struct SessionMemory {
    uint64_t weights_bytes = 0;  // mapped from the GGUF
    uint64_t kv_bytes = 0;
    uint64_t scratch_bytes = 0;
    uint64_t extension_bytes = 0;  // Engram: resident rows + per-sequence state
};

class Session {
public:
    static Result<std::unique_ptr<Session>> create(const Model& model, SessionOptions opt);

    const Model& model() const { return model_; }
    int64_t n_ctx() const { return kv_.n_ctx(); }
    int64_t n_past() const { return (int64_t)tokens_.size(); }
    const std::vector<int32_t>& tokens() const { return tokens_; }
    int n_threads() const { return pool_.size(); }

    // Appends tokens and runs them; afterwards logits() are those after the
    // last token. Fails (changing nothing) when they do not fit the context
    // or the model's extension cannot read its tables.
    Status eval(const int32_t* tokens, int64_t n);
    Status eval(const std::vector<int32_t>& t) { return eval(t.data(), (int64_t)t.size()); }

    const float* logits() const { return scratch_.logits.data(); }
    int64_t n_vocab() const { return model_.hparams().n_vocab; }

    // Forgets tokens from position n on (their cache entries are overwritten later).
    void truncate(int64_t n);
    // Number of leading tokens shared with `t`.
    int64_t common_prefix(const std::vector<int32_t>& t) const;

    SessionMemory memory() const;
    void set_dump(TensorDumpFn fn) { dump_ = std::move(fn); }

private:
    Session(const Model& m, int64_t n_ctx, int64_t n_batch, int n_threads);
    Status check_tokens(const int32_t* tokens, int64_t n) const;

    const Model& model_;
    ThreadPool pool_;
    KvCache kv_;
    ForwardScratch scratch_;
    int64_t n_batch_;
    std::vector<int32_t> tokens_;
    std::unique_ptr<ExtensionState> ext_state_;
    TensorDumpFn dump_;
};

}  // namespace eg
