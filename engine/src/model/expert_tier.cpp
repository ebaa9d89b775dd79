#include "model/expert_tier.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>

#include "core/log.h"
#include "core/units.h"
#include "model/model.h"
#include "tier/replay.h"

namespace eg {

namespace {

constexpr uint64_t kAlign = 4096;
uint64_t round_up(uint64_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

std::unique_ptr<uint8_t[], void (*)(void*)> aligned_buffer(uint64_t bytes) {
    void* p = bytes ? std::aligned_alloc(kAlign, round_up(bytes)) : nullptr;
    return {static_cast<uint8_t*>(p), std::free};
}

}  // namespace

ExpertTier::~ExpertTier() {
    (void)finish();
    if (io_thread_.joinable()) {
        {
            std::lock_guard<std::mutex> lock(io_mu_);
            io_stop_ = true;
        }
        io_cv_.notify_all();
        io_thread_.join();
    }
}

void ExpertTier::io_loop() {
    std::unique_lock<std::mutex> lock(io_mu_);
    for (;;) {
        io_cv_.wait(lock, [this] { return io_job_ || io_stop_; });
        if (io_stop_) return;
        lock.unlock();
        Status st = reader_->read(flight_.reqs);
        lock.lock();
        io_status_ = std::move(st);
        io_job_ = false;
        io_cv_.notify_all();
    }
}

Result<std::unique_ptr<ExpertTier>> ExpertTier::open(const Model& m, const ExpertTierOptions& o) {
    const HParams& hp = m.hparams();
    const GgufFile& f = m.file();
    if (hp.n_expert <= 0) return Error{f.path() + ": the model has no experts to place in tiers"};
    std::unique_ptr<ExpertTier> t(new ExpertTier());
    t->model_ = &m;
    t->opt_ = o;
    t->n_expert_ = hp.n_expert;
    t->block_of_.assign((size_t)hp.n_layer, -1);
    for (int64_t il = 0; il < hp.n_layer; ++il) {
        const LayerWeights& L = m.weights().layers[(size_t)il];
        if (!L.gate_exps.all.data) continue;
        Block b;
        b.layer = il;
        const ExpertMatrices* mats[3] = {&L.gate_exps, &L.up_exps, &L.down_exps};
        const char* names[3] = {"ffn_gate_exps.weight", "ffn_up_exps.weight", "ffn_down_exps.weight"};
        uint64_t slot = 0;
        for (int k = 0; k < 3; ++k) {
            const std::string name = "blk." + std::to_string(il) + "." + names[k];
            const GgufTensorInfo* ti = f.find_tensor(name);
            if (!ti) return f.error("tensor " + name, "missing");
            // The tier reads one file; a split model's later parts are not it.
            if (ti->part != 0)
                return f.error("tensor " + name, "is in part " + std::to_string(ti->part + 1) + " of a split model (" +
                                                     f.part_path(ti->part) + "); experts can be kept partly on the "
                                                     "SSD only for a single-file model (merge the parts with "
                                                     "llama-gguf-split --merge)");
            b.off[k] = f.data_offset() + ti->offset;
            b.slice[k] = mats[k]->expert_bytes();
            b.view[k] = mats[k]->expert(0);
            b.view[k].packed = nullptr;
            slot += round_up(b.slice[k]);
        }
        t->slot_bytes_ = std::max(t->slot_bytes_, slot);
        t->block_of_[(size_t)il] = (int)t->blocks_.size();
        t->blocks_.push_back(b);
    }
    t->uses_.assign((size_t)(hp.n_layer * hp.n_expert), 0);
    t->resident_.assign((size_t)(hp.n_layer * hp.n_expert), 0);
    const uint64_t capacity = t->slot_bytes_ ? o.dram_bytes / t->slot_bytes_ : 0;
    t->st_.capacity = capacity;
    t->st_.expert_bytes = t->slot_bytes_;
    t->policy_ = tier::make_policy(o.policy, capacity);
    if (capacity > 0) {
        t->slots_ = aligned_buffer(capacity * t->slot_bytes_);
        if (!t->slots_)
            return Error{f.path() + ": cannot allocate the expert cache (" + format_bytes(capacity * t->slot_bytes_) +
                         ")"};
    }
    auto file = tier::IoFile::open(f.path(), tier::IoFileOptions{o.direct_io, tier::IoBackend::Auto});
    if (!file) return file.error();
    t->file_ = std::move(file.value());
    t->reader_ = std::make_unique<tier::BatchReader>(t->file_);
    t->io_thread_ = std::thread([p = t.get()] { p->io_loop(); });
    EG_LOG_INFO("{}: experts in tiers: {} of {} experts in DRAM ({} of {}), the rest read from the file ({}, {})",
                f.path(), capacity, (uint64_t)t->blocks_.size() * (uint64_t)hp.n_expert, format_bytes(capacity * t->slot_bytes_),
                format_bytes((uint64_t)t->blocks_.size() * (uint64_t)hp.n_expert * t->slot_bytes_),
                tier::policy_name(o.policy), tier::io_backend_name(t->file_->backend()));
    return t;
}

ExpertWeights ExpertTier::views(const Block& b, const uint8_t* base) const {
    ExpertWeights w{b.view[0], b.view[1], b.view[2]};
    WeightView* v[3] = {&w.gate, &w.up, &w.down};
    uint64_t at = 0;
    for (int k = 0; k < 3; ++k) {
        v[k]->data = base + at;
        at += round_up(b.slice[k]);
    }
    return w;
}

Status ExpertTier::fetch(int64_t il, std::span<const int32_t> ids, ExpertWeights* out) {
    std::vector<char> ready;
    if (auto st = begin(il, ids, out, ready); !st) return st;
    return finish();
}

Status ExpertTier::begin(int64_t il, std::span<const int32_t> ids, ExpertWeights* out, std::vector<char>& ready) {
    if (in_flight_) return Error{"expert tier: begin() while the previous fetch is not finished"};
    const int bi = il >= 0 && (size_t)il < block_of_.size() ? block_of_[(size_t)il] : -1;
    if (bi < 0) return Error{"expert tier: block " + std::to_string(il) + " has no experts"};
    const Block& b = blocks_[(size_t)bi];
    const size_t n = ids.size();
    // Where each expert's bytes are this call: a slot of the cache, or the
    // transient buffer; and whether they must be read.
    std::vector<int64_t> slot_of(n, -1);
    std::vector<bool> read(n, false), transient(n, false), hit(n, false);
    uint64_t hits = 0;
    std::vector<uint64_t> evicted_keys;
    for (size_t i = 0; i < n; ++i) {
        const uint64_t key = (uint64_t)il * (uint64_t)n_expert_ + (uint64_t)ids[i];
        if (policy_->touch(key)) {
            slot_of[i] = policy_->slot_of(key);
            ++hits;
            hit[i] = true;
            continue;
        }
        read[i] = true;
        std::optional<uint64_t> evicted;
        if (policy_->admit(key, &evicted)) slot_of[i] = policy_->slot_of(key);
        else transient[i] = true;
        if (evicted) evicted_keys.push_back(*evicted);
    }
    // An admission may have taken the slot of an expert this call uses: that
    // one goes to the transient buffer (copied out first if it was a hit).
    for (size_t i = 0; i < n; ++i) {
        if (transient[i]) continue;
        const uint64_t key = (uint64_t)il * (uint64_t)n_expert_ + (uint64_t)ids[i];
        if (policy_->contains(key) && policy_->slot_of(key) == slot_of[i]) continue;
        transient[i] = true;
    }
    const uint64_t n_transient = (uint64_t)std::count(transient.begin(), transient.end(), true);
    if (n_transient > transient_slots_) {
        transient_ = aligned_buffer(n_transient * slot_bytes_);
        if (!transient_) return Error{file_->path() + ": cannot allocate " + format_bytes(n_transient * slot_bytes_) +
                                      " to read experts into"};
        transient_slots_ = n_transient;
    }
    std::vector<tier::ReadRequest> reqs;
    uint64_t next_transient = 0, bytes = 0;
    for (size_t i = 0; i < n; ++i) {
        uint8_t* base = nullptr;
        if (transient[i]) {
            base = transient_.get() + next_transient++ * slot_bytes_;
            if (!read[i]) std::memcpy(base, slot(slot_of[i]), slot_bytes_);  // a hit whose slot was taken
        } else {
            base = slot(slot_of[i]);
        }
        out[i] = views(b, base);
        if (!read[i]) continue;
        uint64_t at = 0;
        for (int k = 0; k < 3; ++k) {
            reqs.push_back({b.off[k] + (uint64_t)ids[i] * b.slice[k], b.slice[k], base + at});
            at += round_up(b.slice[k]);
            bytes += b.slice[k];
        }
    }
    // The reads of a hit copied out above must not land before the copy: they
    // are issued only now, all together, on a task of their own, while the
    // caller computes with the experts already here.
    ready.assign(n, 0);
    for (size_t i = 0; i < n; ++i) ready[i] = read[i] ? 0 : 1;
    InFlight& f = flight_;
    f.layer = il;
    f.ids.assign(ids.begin(), ids.end());
    f.read = std::move(read);
    f.transient = std::move(transient);
    f.hit = std::move(hit);
    f.hits = hits;
    f.bytes = bytes;
    f.evicted = std::move(evicted_keys);
    f.reqs = std::move(reqs);
    f.before = reader_->counters();
    if (!f.reqs.empty()) {
        std::lock_guard<std::mutex> lock(io_mu_);
        io_job_ = true;
        io_cv_.notify_all();
    }
    in_flight_ = true;
    return {};
}

Status ExpertTier::finish() {
    if (!in_flight_) return {};
    in_flight_ = false;
    InFlight& f = flight_;
    const auto t0 = std::chrono::steady_clock::now();
    Status st;
    if (!f.reqs.empty()) {
        std::unique_lock<std::mutex> lock(io_mu_);
        io_cv_.wait(lock, [this] { return !io_job_; });
        st = std::move(io_status_);
    }
    const auto us = (uint64_t)std::chrono::duration_cast<std::chrono::microseconds>(
                        std::chrono::steady_clock::now() - t0).count();
    const size_t n = f.ids.size();
    if (!st) {
        // Slots admitted by this call hold no valid bytes: start the cache over.
        for (size_t i = 0; i < n; ++i)
            if (f.read[i] && !f.transient[i]) {
                policy_ = tier::make_policy(opt_.policy, st_.capacity);
                std::lock_guard<std::mutex> lock(mu_);
                std::fill(resident_.begin(), resident_.end(), 0);
                break;
            }
        return st;
    }
    std::lock_guard<std::mutex> lock(mu_);
    st_.hits += f.hits;
    st_.misses += n - f.hits;
    st_.bytes_read += f.bytes;
    st_.stall_us += us;  // what the forward waited, after its work on the experts at hand
    st_.reads += reader_->counters().reads - f.before.reads;
    st_.syscalls += reader_->counters().syscalls - f.before.syscalls;
    st_.resident = policy_->size();
    for (uint64_t k : f.evicted) resident_[(size_t)k] = 0;
    for (size_t i = 0; i < n; ++i) {
        const size_t key = (size_t)(f.layer * n_expert_ + f.ids[i]);
        ++uses_[key];
        resident_[key] = !f.transient[i];
    }
    for (size_t i = 0; i < n && trace_.size() < opt_.trace_limit; ++i) {
        trace_.push_back((uint64_t)f.layer * (uint64_t)n_expert_ + (uint64_t)f.ids[i]);
        ++st_.traced;
        st_.traced_hits += f.hit[i] ? 1 : 0;
    }
    return {};
}

ExpertTierStats ExpertTier::stats() const {
    std::lock_guard<std::mutex> lock(mu_);
    return st_;
}

double ExpertTier::optimal_hit_rate() const {
    std::vector<uint64_t> trace;
    uint64_t capacity = 0;
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (trace_.size() <= optimal_at_ + optimal_at_ / 10 && optimal_at_ > 0) return optimal_;
        trace = trace_;
        capacity = st_.capacity;
    }
    const double h = tier::replay_optimal(capacity, trace).hit_rate;
    std::lock_guard<std::mutex> lock(mu_);
    optimal_at_ = trace.size();
    optimal_ = h;
    return h;
}

const char* ExpertTier::policy_name() const { return tier::policy_name(opt_.policy); }

std::vector<ExpertTier::Heat> ExpertTier::hottest(size_t n) const {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<size_t> keys;
    for (size_t k = 0; k < uses_.size(); ++k)
        if (uses_[k]) keys.push_back(k);
    n = std::min(n, keys.size());
    std::partial_sort(keys.begin(), keys.begin() + (long)n, keys.end(),
                      [&](size_t a, size_t b) { return uses_[a] > uses_[b] || (uses_[a] == uses_[b] && a < b); });
    std::vector<Heat> out;
    for (size_t i = 0; i < n; ++i) {
        const size_t k = keys[i];
        out.push_back({(int64_t)k / n_expert_, (int64_t)k % n_expert_, uses_[k], resident_[k] != 0});
    }
    return out;
}

}  // namespace eg
