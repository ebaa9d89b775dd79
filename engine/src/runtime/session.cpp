#include "runtime/session.h"

#include <algorithm>
#include <chrono>

#include "backend/gpu.h"
#include "core/log.h"

namespace eg {

namespace {

// "cpu" | "cuda:N" (N >= 0); -1 for cpu, -2 when malformed.
int parse_device(const std::string& d) {
    if (d == "cpu") return -1;
    if (d.rfind("cuda:", 0) == 0 && d.size() > 5 && d.size() < 9 &&
        std::all_of(d.begin() + 5, d.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return std::stoi(d.substr(5));
    return -2;
}

Status check_split(const std::vector<BlockRange>& split, int64_t n_layer) {
    int64_t next = 0;
    for (const BlockRange& r : split) {
        if (parse_device(r.device) == -2)
            return Error{"device '" + r.device + "' is not cpu or cuda:N"};
        if (r.first != next || r.last <= r.first || r.last > n_layer)
            return Error{"block ranges must cover blocks 0.." + std::to_string(n_layer - 1) +
                         " once, in order: " + r.device + " [" + std::to_string(r.first) + ", " +
                         std::to_string(r.last) + ") does not follow block " + std::to_string(next - 1)};
        next = r.last;
    }
    if (next != n_layer)
        return Error{"block ranges end at block " + std::to_string(next) + " but the model has " +
                     std::to_string(n_layer)};
    return {};
}

}  // namespace

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

    std::vector<BlockRange> split = opt.split;
    if (split.empty()) split.push_back({"cpu", 0, hp.n_layer});
    if (auto s = check_split(split, hp.n_layer); !s) return s.error();
    std::string head = opt.output_device.empty() ? split.back().device : opt.output_device;
    if (std::none_of(split.begin(), split.end(), [&](const BlockRange& r) { return r.device == head; }))
        return Error{"the output head is placed on " + head + ", which runs no blocks"};

    std::unique_ptr<Session> s(new Session(model, n_ctx, n_batch, n_threads));
    if (opt.expert_dram_bytes && hp.n_expert > 0) {
        uint64_t all = 0;
        for (const LayerWeights& L : model.weights().layers)
            for (const ExpertMatrices* x : {&L.gate_exps, &L.up_exps, &L.down_exps})
                all += x->expert_bytes() * (uint64_t)x->n_expert;
        if (*opt.expert_dram_bytes < all) {
            auto t = ExpertTier::open(model, ExpertTierOptions{*opt.expert_dram_bytes, opt.expert_policy});
            if (!t) return t.error();
            s->experts_ = std::move(t.value());
        }
    }
    for (size_t i = 0; i < split.size(); ++i) {
        const BlockRange& r = split[i];
        // The head goes to the last range on its device (the activations
        // leave the last block there anyway when it is the last range).
        const bool holds_head = r.device == head && std::none_of(split.begin() + (long)i + 1, split.end(),
                                                                 [&](const BlockRange& o) { return o.device == head; });
        const int dev = parse_device(r.device);
        if (dev == -1) {
            s->backends_.push_back(
                make_cpu_backend(model, r.first, r.last, holds_head, n_ctx, n_batch, s->pool_, s->experts_.get()));
        } else {
            auto b = make_cuda_backend(model, dev, r.first, r.last, holds_head, n_ctx, n_batch, opt.engram_vram_bytes);
            if (!b) return b.error();
            s->backends_.push_back(std::move(b.value()));
        }
        if (holds_head) s->head_ = s->backends_.back().get();
    }
    const SessionMemory mem = s->memory();
    std::string where;
    for (size_t i = 0; i < split.size(); ++i)
        where += (i ? ", " : "") + split[i].device + " [" + std::to_string(split[i].first) + ", " +
                 std::to_string(split[i].last) + ")";
    EG_LOG_INFO("session: ctx {}, batch {}, {} threads, blocks {} (head on {}), KV {:.1f} MiB, scratch {:.1f} MiB",
                n_ctx, n_batch, n_threads, where, head, mem.kv_bytes / 1048576.0, mem.scratch_bytes / 1048576.0);
    return s;
}

Session::Session(const Model& m, int64_t n_ctx, int64_t n_batch, int n_threads)
    : model_(m), pool_(n_threads), n_ctx_(n_ctx), n_batch_(n_batch) {
    x_.assign((size_t)(n_batch * m.hparams().n_embd), 0.0f);
    logits_.assign((size_t)m.hparams().n_vocab, 0.0f);
    tokens_.reserve(n_ctx);
    if (m.extension()) ext_state_ = m.extension()->new_state(n_ctx);
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

Status Session::eval(const int32_t* tokens, int64_t n) { return eval(tokens, n, nullptr); }

Status Session::eval(const int32_t* tokens, int64_t n, float* all_logits) {
    if (auto s = check_tokens(tokens, n); !s) return s;
    const int64_t n_before = n_past();
    const int64_t D = model_.hparams().n_embd;
    const TensorDumpFn* dump = dump_ ? &dump_ : nullptr;
    // The extension learns every id now, so its rows are fetched while the
    // batches before them run.
    if (ext_state_) model_.extension()->prepare(*ext_state_, tokens, n, n_before);
    const int64_t nv = n_vocab();
    // rows: where the logits of the batch's positions go (nullptr: only the last, into logits_).
    auto step = [&](const int32_t* t, int64_t nb, float* rows) -> Status {
        if (auto s = decoder_embed(model_, t, nb, x_.data(), ext_state_.get()); !s) return s;
        if (dump) (*dump)("inp_embd", -1, x_.data(), nb, D);
        for (auto& b : backends_)
            if (auto s = b->forward(x_.data(), nb, n_past(), ext_state_.get(), dump); !s) return s;
        if (rows)
            for (int64_t r = 0; r + 1 < nb; ++r)
                if (auto s = head_->output(x_.data() + r * D, rows + r * nv, nullptr); !s) return s;
        if (auto s = head_->output(x_.data() + (nb - 1) * D, logits_.data(), dump); !s) return s;
        if (rows) std::copy(logits_.begin(), logits_.end(), rows + (nb - 1) * nv);
        return {};
    };
    for (int64_t i = 0; i < n; i += n_batch_) {
        const int64_t nb = std::min(n_batch_, n - i);
        const auto t0 = std::chrono::steady_clock::now();
        if (auto s = step(tokens + i, nb, all_logits ? all_logits + i * nv : nullptr); !s) {
            truncate(n_before);
            return s;
        }
        tokens_.insert(tokens_.end(), tokens + i, tokens + i + nb);
        if (counters_)
            counters_->add(/*prefill=*/n > 1, nb,
                           (uint64_t)std::chrono::duration_cast<std::chrono::nanoseconds>(
                               std::chrono::steady_clock::now() - t0).count());
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
    SessionMemory m;
    m.file_weights_bytes = model_.weight_bytes() + (model_.extension() ? model_.extension()->weight_bytes() : 0);
    for (const auto& b : backends_) {
        DeviceMemory d = b->memory();
        m.weights_bytes += d.weights_bytes;
        m.kv_bytes += d.kv_bytes;
        m.scratch_bytes += d.scratch_bytes;
        m.devices.push_back(std::move(d));
    }
    m.weights_bytes += m.host_only_weights_bytes();
    m.scratch_bytes += (x_.size() + logits_.size()) * sizeof(float);
    if (ext_state_) m.extension_bytes = ext_state_->bytes() + model_.extension()->resident_bytes();
    return m;
}

ExtensionStats Session::extension_stats() const {
    const ModelExtension* x = model_.extension();
    if (!x) return {};
    ExtensionStats s = x->stats();
    TierStats v;
    v.tier = "vram";
    for (const auto& b : backends_) {
        const DeviceMemory d = b->memory();
        v.hits += d.engram_hits;
        v.misses += d.engram_misses;
        v.bytes_read += d.engram_bytes_uploaded;
        v.bytes_resident += d.engram_resident_bytes;
        v.capacity_bytes += d.engram_bytes;
    }
    if (v.capacity_bytes > 0) s.tiers.insert(s.tiers.begin(), v);
    return s;
}

std::vector<BlockRange> Session::placement() const {
    std::vector<BlockRange> r;
    for (const auto& b : backends_) r.push_back({b->device(), b->first_layer(), b->last_layer()});
    return r;
}

}  // namespace eg
