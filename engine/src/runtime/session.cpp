#include "runtime/session.h"

#include <algorithm>

#include "core/log.h"

namespace eg {

Result<std::unique_ptr<Session>> Session::create(const Model& model, SessionOptions opt) {
    const HParams& hp = model.hparams();
    int64_t n_ctx = opt.n_ctx > 0 ? opt.n_ctx : std::min<int64_t>(hp.n_ctx_train, 4096);
    if (n_ctx > hp.n_ctx_train) {
        EG_LOG_WARN("context {} is longer than the model was trained for ({}); capping", n_ctx, hp.n_ctx_train);
        n_ctx = hp.n_ctx_train;
    }
    if (n_ctx < 8) return Error{"context length " + std::to_string(n_ctx) + " is too small (at least 8 tokens)"};
    const int64_t n_batch = std::clamp<int64_t>(opt.n_batch, 1, 4096);
    int n_threads = opt.n_threads > 0 ? opt.n_threads : physical_core_count();
    n_threads = std::clamp(n_threads, 1, 256);
    return std::unique_ptr<Session>(new Session(model, n_ctx, n_batch, n_threads));
}

Session::Session(const Model& m, int64_t n_ctx, int64_t n_batch, int n_threads)
    : model_(m), pool_(n_threads), kv_(m.hparams().n_layer, n_ctx, m.hparams().kv_dim()), n_batch_(n_batch) {
    scratch_.allocate(m.hparams(), n_batch, n_ctx, n_threads);
    if (m.extension()) ext_state_ = m.extension()->new_state(n_ctx);
    tokens_.reserve(n_ctx);
    EG_LOG_INFO("session: ctx {}, batch {}, {} threads, KV {:.1f} MiB, scratch {:.1f} MiB", n_ctx, n_batch, n_threads,
                kv_.bytes() / 1048576.0, scratch_.bytes() / 1048576.0);
}

Status Session::check_tokens(const int32_t* tokens, int64_t n) const {
    if (n_past() + n > n_ctx())
        return Error{"the context is full: " + std::to_string(n_past()) + " + " + std::to_string(n) +
                     " tokens exceed the context length " + std::to_string(n_ctx())};
    const int64_t nv = model_.hparams().n_vocab;
    for (int64_t i = 0; i < n; ++i)
        if (tokens[i] < 0 || tokens[i] >= nv)
            return Error{"token id " + std::to_string(tokens[i]) + " is outside the vocabulary (0.." +
                         std::to_string(nv - 1) + ")"};
    return {};
}

Status Session::eval(const int32_t* tokens, int64_t n) {
    if (auto s = check_tokens(tokens, n); !s) return s;
    const int64_t n_before = n_past();
    // The extension learns every id now, so its rows are fetched while the
    // batches before them run.
    if (ext_state_) model_.extension()->prepare(*ext_state_, tokens, n, n_before);
    for (int64_t i = 0; i < n; i += n_batch_) {
        const int64_t nb = std::min(n_batch_, n - i);
        if (auto s = decoder_forward(model_, kv_, scratch_, tokens + i, nb, n_past(), pool_, &dump_, ext_state_.get());
            !s) {
            truncate(n_before);
            return s;
        }
        tokens_.insert(tokens_.end(), tokens + i, tokens + i + nb);
    }
    return {};
}

void Session::truncate(int64_t n) {
    if (n < n_past()) tokens_.resize(std::max<int64_t>(n, 0));
    if (ext_state_) ext_state_->truncate(n_past());
}

int64_t Session::common_prefix(const std::vector<int32_t>& t) const {
    const size_t n = std::min(t.size(), tokens_.size());
    size_t i = 0;
    while (i < n && t[i] == tokens_[i]) ++i;
    return (int64_t)i;
}

SessionMemory Session::memory() const {
    uint64_t ext = 0;
    if (ext_state_) ext = ext_state_->bytes() + model_.extension()->resident_bytes();
    return {model_.weight_bytes(), kv_.bytes(), scratch_.bytes(), ext};
}

}  // namespace eg
