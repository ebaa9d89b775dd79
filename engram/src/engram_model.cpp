#include "engram_model.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <functional>
#include <unordered_map>

#include "core/log.h"
#include "hash.h"
#include "module.h"
#include "quant/kernels.h"

namespace eg::engram {

namespace {

using Clock = std::chrono::steady_clock;

// Positions are fetched in chunks of this many, so that the first forward
// batch of a long prompt waits only for its own rows.
constexpr int64_t kChunk = 256;

// Index of a row prepare() did not fetch (a GPU held it).
constexpr uint32_t kNotFetched = UINT32_MAX;

// A chunk of positions whose rows of one table are on their way.
struct Pending {
    int64_t pos0 = 0, n = 0;
    std::shared_ptr<FetchBatch> batch;
    std::vector<uint32_t> index;  // [n * rows per position] -> slot in batch
};

// A table's chunks in flight, oldest first. A dropped chunk keeps its index
// buffer for the next one, so that a decode step allocates nothing.
class ChunkQueue {
public:
    ChunkQueue() {
        items_.reserve(8);
        spare_.reserve(8);
    }
    bool empty() const { return items_.empty(); }
    Pending& front() { return items_.front(); }
    Pending& back() { return items_.back(); }
    std::vector<Pending>::iterator begin() { return items_.begin(); }
    std::vector<Pending>::iterator end() { return items_.end(); }
    // A new chunk at the back, with a recycled index buffer.
    Pending& push() {
        if (spare_.empty()) {
            items_.emplace_back();
        } else {
            items_.push_back(std::move(spare_.back()));
            spare_.pop_back();
        }
        return items_.back();
    }
    void pop_front() {
        Pending p = std::move(items_.front());
        items_.erase(items_.begin());
        p.batch.reset();  // back to the store's pool once its reads are done
        spare_.push_back(std::move(p));
    }
    void clear() {
        while (!empty()) pop_front();
    }

private:
    std::vector<Pending> items_, spare_;
};

class EngramState final : public ExtensionState {
public:
    std::vector<int32_t> compressed;        // compressed id of every position
    // Per Engram layer: rows a GPU backend holds (prepare() does not fetch them).
    std::vector<std::function<bool(uint64_t)>> device_rows;
    std::vector<ConvHistory> conv;          // per Engram layer (demo form)
    std::vector<ChunkQueue> pending;        // per table
    ModuleScratch scratch;                  // scratch.e: the gathered rows of a batch
    int64_t scratch_batch = 0;
    // request_*()'s buffers, kept between calls.
    std::vector<uint64_t> rows_buf, uniq_buf, keep_buf;
    std::vector<uint32_t> remap_buf;

    void truncate(int64_t n) override {
        if ((int64_t)compressed.size() > n) compressed.resize(std::max<int64_t>(n, 0));
        for (auto& q : pending) q.clear();
    }
    uint64_t bytes() const override {
        uint64_t b = compressed.capacity() * sizeof(int32_t) + scratch.bytes();
        for (const auto& c : conv) b += c.xn.capacity() * sizeof(float);
        return b;
    }
};

class EngramExtension final : public ModelExtension {
public:
    EngramExtension(const Model& m, Config cfg, std::unique_ptr<TieredStore> store, int tok_table)
        : model_(m), cfg_(std::move(cfg)), hasher_(cfg_), store_(std::move(store)), tok_table_(tok_table) {
        // The modules' own tensors: every blk.N.engram_* but the table.
        for (const auto& t : m.file().tensors())
            if (t.name.rfind("blk.", 0) == 0 && t.name.find(".engram_") != std::string::npos &&
                t.name.find(".engram_embd.") == std::string::npos)
                weight_bytes_ += t.n_bytes;
        for (const LayerTensors& L : cfg_.layers) {
            LookupModule mod;
            mod.layer = L.layer;
            mod.row_type = L.table.type;
            mod.row_values = L.table.key_length;
            mod.row_bytes = L.table.row_bytes;
            mod.n_rows = L.table.n_rows;
            mod.rows_per_token = cfg_.heads_per_layer();
            if (cfg_.form == Form::V41) {
                mod.wkv = &L.wkv;
            } else {
                mod.key = &L.key;
                mod.value = &L.value;
                mod.key_bias = L.key_bias;
                mod.value_bias = L.value_bias;
                mod.conv = L.conv;
                mod.conv_norm = L.conv_norm;
                mod.conv_kernel = cfg_.conv_kernel;
                mod.conv_dilation = cfg_.max_ngram;
            }
            mod.q_norm = L.q_norm;
            mod.k_norm = L.k_norm;
            mod.eps = cfg_.norm_eps;
            modules_.push_back(mod);
        }
    }

    std::string describe() const override {
        std::string s = ::eg::engram::describe(cfg_);
        s += "; DRAM budget " + std::to_string(store_->capacity_bytes() >> 20) + " MiB of " +
             std::to_string(total_table_bytes() >> 20) + " MiB (policy " + tier::policy_name(store_->options().policy) +
             (store_->options().prefetch ? ", prefetch on" : ", prefetch off") + ")";
        if (tok_table_ >= 0) s += "; token_embd served by the tiered store";
        return s;
    }

    std::unique_ptr<ExtensionState> new_state(int64_t n_ctx) const override {
        auto st = std::make_unique<EngramState>();
        st->compressed.reserve(n_ctx);
        st->pending.resize(store_->tables().size());
        st->device_rows.resize(cfg_.layers.size());
        if (cfg_.form == Form::Demo) {
            st->conv.resize(cfg_.layers.size());
            for (auto& c : st->conv) {
                c.n_embd = model_.hparams().n_embd;
                c.xn.assign((size_t)(n_ctx * c.n_embd), 0.0f);
            }
        }
        return st;
    }

    void prepare(ExtensionState& base, const int32_t* tokens, int64_t n, int64_t pos0) override {
        auto& st = static_cast<EngramState&>(base);
        st.truncate(pos0);
        for (int64_t i = 0; i < n; ++i) st.compressed.push_back(hasher_.compress(tokens[i]));
        for (int64_t c = 0; c < n; c += kChunk) {
            const int64_t cn = std::min(kChunk, n - c);
            for (size_t li = 0; li < cfg_.layers.size(); ++li)
                request_layer(st, st.pending[li].push(), (int)li, pos0 + c, cn);
            if (tok_table_ >= 0) request_tokens(st, st.pending[tok_table_].push(), tokens + c, pos0 + c, cn);
        }
    }

    bool serves_embeddings() const override { return tok_table_ >= 0; }

    // Rows of the token table for the tokens about to run: the oldest pending
    // chunk(s) of that table, consumed front to back.
    Status embed(ExtensionState& base, const int32_t* tokens, int64_t n, float* out) override {
        auto& st = static_cast<EngramState&>(base);
        const TableInfo& t = store_->tables()[tok_table_];
        const TypeKernels* k = kernels_for(t.type);
        auto& q = st.pending[tok_table_];
        for (int64_t i = 0; i < n;) {
            if (q.empty()) request_tokens(st, q.push(), tokens + i, -1, n - i);
            Pending& pc = q.front();
            if (auto s = store_->wait(*pc.batch); !s) return s;
            const int64_t take = std::min(pc.n, n - i);
            for (int64_t j = 0; j < take; ++j) {
                if ((uint64_t)tokens[i + j] != pc.batch->rows[pc.index[j]])
                    return Error{"token table: the fetched rows are not those of the tokens being run"};
                k->dequantize(pc.batch->row(pc.index[j], t.row_bytes), out + (i + j) * t.key_length, t.key_length);
            }
            i += take;
            if (take == pc.n) {
                q.pop_front();
            } else {
                pc.pos0 += take;
                pc.n -= take;
                pc.index.erase(pc.index.begin(), pc.index.begin() + take);
            }
        }
        return {};
    }

    bool has_layer(int64_t il) const override { return cfg_.index_of_layer(il) >= 0; }

    const LookupModule* lookup_module(int64_t il) const override {
        const int li = cfg_.index_of_layer(il);
        return li < 0 ? nullptr : &modules_[(size_t)li];
    }

    Status lookup_rows(ExtensionState& base, int64_t il, int64_t n_tok, int64_t pos0, uint64_t* ids) override {
        auto& st = static_cast<EngramState&>(base);
        const int li = cfg_.index_of_layer(il);
        if (li < 0) return Error{"block " + std::to_string(il) + " has no Engram module"};
        if (auto s = check_prepared(st, il, n_tok, pos0); !s) return s;
        hasher_.rows(li, st.compressed.data(), pos0, n_tok, ids);
        return {};
    }

    void set_device_rows(ExtensionState& base, int64_t il, std::function<bool(uint64_t)> holds) override {
        auto& st = static_cast<EngramState&>(base);
        const int li = cfg_.index_of_layer(il);
        if (li >= 0) st.device_rows[(size_t)li] = std::move(holds);
    }

    Status read_rows(ExtensionState& base, int64_t il, int64_t n_tok, int64_t pos0, const uint64_t* want, size_t n,
                     uint8_t* dst) override {
        auto& st = static_cast<EngramState&>(base);
        const int li = cfg_.index_of_layer(il);
        if (li < 0) return Error{"block " + std::to_string(il) + " has no Engram module"};
        if (auto s = check_prepared(st, il, n_tok, pos0); !s) return s;
        const uint64_t rb = store_->tables()[li].row_bytes;
        const int64_t H = cfg_.heads_per_layer();
        if (n > 0) {
            std::unordered_map<uint64_t, const uint8_t*> where;
            where.reserve((size_t)(n_tok * H));
            auto got = each_chunk(st, li, pos0, n_tok, [&](const Pending& pc, int64_t p, int64_t end) {
                for (; p < end; ++p)
                    for (int64_t h = 0; h < H; ++h) {
                        const uint32_t k = pc.index[(size_t)((p - pc.pos0) * H + h)];
                        if (k != kNotFetched) where.emplace(pc.batch->rows[k], pc.batch->row(k, rb));
                    }
            });
            if (!got) return got;
            // Rows not fetched ahead (the GPU held them at prepare()): now.
            std::vector<uint64_t> late;
            for (size_t i = 0; i < n; ++i) {
                if (want[i] >= store_->tables()[li].n_rows)
                    return Error{"Engram layer " + std::to_string(il) + ": row " + std::to_string(want[i]) +
                                 " is outside its table of " + std::to_string(store_->tables()[li].n_rows) + " rows"};
                if (!where.count(want[i])) late.push_back(want[i]);
            }
            std::shared_ptr<FetchBatch> extra;
            if (!late.empty()) {
                std::sort(late.begin(), late.end());
                late.erase(std::unique(late.begin(), late.end()), late.end());
                extra = store_->request(li, late);
                if (auto s = store_->wait(*extra); !s) return s;
                for (size_t k = 0; k < extra->rows.size(); ++k) where.emplace(extra->rows[k], extra->row(k, rb));
            }
            for (size_t i = 0; i < n; ++i) {
                auto it = where.find(want[i]);
                if (it == where.end())
                    return Error{"Engram layer " + std::to_string(il) + ": the store did not deliver row " +
                                 std::to_string(want[i])};
                std::memcpy(dst + i * rb, it->second, rb);
            }
        }
        drop_consumed(st, li, pos0 + n_tok);
        return {};
    }

    Status apply(ExtensionState& base, int64_t il, float* x, int64_t n_tok, int64_t pos0, ThreadPool& pool,
                 const TensorDumpFn* dump) override {
        auto& st = static_cast<EngramState&>(base);
        const int li = cfg_.index_of_layer(il);
        if (li < 0) return {};
        if (auto s = check_prepared(st, il, n_tok, pos0); !s) return s;
        if (st.device_rows[(size_t)li])
            return Error{"Engram layer " + std::to_string(il) + " is run by a GPU backend for this sequence"};
        ensure_scratch(st, n_tok);
        const TableInfo& t = store_->tables()[li];
        const int64_t H = cfg_.heads_per_layer(), K = cfg_.key_length, E = cfg_.gathered_width();
        const TypeKernels* k = kernels_for(t.type);
        // Gather: every position's rows, from the chunks that hold them.
        auto gathered = each_chunk(st, li, pos0, n_tok, [&](const Pending& pc, int64_t p, int64_t end) {
            for (; p < end; ++p) {
                const uint32_t* idx = pc.index.data() + (p - pc.pos0) * H;
                float* dst = st.scratch.e.data() + (p - pos0) * E;
                for (int64_t h = 0; h < H; ++h) k->dequantize(pc.batch->row(idx[h], t.row_bytes), dst + h * K, K);
            }
        });
        if (!gathered) return gathered;
        drop_consumed(st, li, pos0 + n_tok);
        if (dump && *dump) (*dump)("engram_rows", il, st.scratch.e.data(), n_tok, E);
        const auto t0 = Clock::now();
        forward(cfg_, cfg_.layers[li], model_.hparams().n_embd, x, st.scratch.e.data(), n_tok, pos0,
                cfg_.form == Form::Demo ? &st.conv[li] : nullptr, st.scratch, pool, dump);
        compute_us_ += std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count();
        return {};
    }

    Status warm(const int32_t* tokens, int64_t n) override {
        EngramState st;
        st.pending.resize(store_->tables().size());
        for (int64_t i = 0; i < n; ++i) st.compressed.push_back(hasher_.compress(tokens[i]));
        // Keep a few chunks in flight so that the I/O threads stay busy.
        std::deque<std::shared_ptr<FetchBatch>> inflight;
        Pending chunk;
        auto drain = [&](size_t keep) -> Status {
            while (inflight.size() > keep) {
                if (auto s = store_->wait(*inflight.front()); !s) return s;
                inflight.pop_front();
            }
            return {};
        };
        for (int64_t c = 0; c < n; c += kChunk) {
            const int64_t cn = std::min(kChunk, n - c);
            for (size_t li = 0; li < cfg_.layers.size(); ++li) {
                request_layer(st, chunk, (int)li, c, cn);
                inflight.push_back(std::move(chunk.batch));
            }
            if (tok_table_ >= 0) {
                request_tokens(st, chunk, tokens + c, c, cn);
                inflight.push_back(std::move(chunk.batch));
            }
            if (auto s = drain(16); !s) return s;
        }
        return drain(0);
    }

    void wait_idle() const override { store_->wait_warm(); }

    ExtensionStats stats() const override {
        ExtensionStats s = store_->stats();
        s.compute_us = compute_us_.load();
        return s;
    }
    uint64_t resident_bytes() const override { return store_->resident_bytes(); }
    uint64_t weight_bytes() const override { return weight_bytes_; }

    std::vector<HotRow> hottest(size_t n) const override {
        std::vector<HotRow> out;
        for (int t = 0; t < (int)store_->tables().size(); ++t)
            for (const auto& [row, count] : store_->hottest(t, n)) out.push_back({count, store_->is_resident(t, row)});
        std::sort(out.begin(), out.end(), [](const HotRow& a, const HotRow& b) { return a.count > b.count; });
        if (out.size() > n) out.resize(n);
        return out;
    }

private:
    uint64_t total_table_bytes() const {
        uint64_t b = 0;
        for (const auto& t : store_->tables()) b += t.n_rows * t.row_bytes;
        return b;
    }

    // Fills p with the request of layer li's rows for positions [pos0, pos0 + n).
    void request_layer(EngramState& st, Pending& p, int li, int64_t pos0, int64_t n) const {
        const int64_t H = cfg_.heads_per_layer();
        st.rows_buf.resize((size_t)(n * H));
        hasher_.rows(li, st.compressed.data(), pos0, n, st.rows_buf.data());
        p.pos0 = pos0;
        p.n = n;
        std::vector<uint64_t>* uniq = &st.uniq_buf;
        dedup_rows(st.rows_buf.data(), st.rows_buf.size(), *uniq, &p.index);
        if (li < (int)st.device_rows.size() && st.device_rows[(size_t)li]) {
            // Rows the GPU holds are not fetched: their index says so.
            const auto& holds = st.device_rows[(size_t)li];
            st.remap_buf.assign(uniq->size(), kNotFetched);
            st.keep_buf.clear();
            for (size_t k = 0; k < uniq->size(); ++k)
                if (!holds((*uniq)[k])) {
                    st.remap_buf[k] = (uint32_t)st.keep_buf.size();
                    st.keep_buf.push_back((*uniq)[k]);
                }
            for (uint32_t& k : p.index) k = st.remap_buf[k];
            uniq = &st.keep_buf;
        }
        p.batch = store_->request(li, uniq->data(), uniq->size());
    }

    // Fills p with the request of the token table's rows of tokens[0, n).
    void request_tokens(EngramState& st, Pending& p, const int32_t* tokens, int64_t pos0, int64_t n) const {
        st.rows_buf.assign(tokens, tokens + n);
        p.pos0 = pos0;
        p.n = n;
        dedup_rows(st.rows_buf.data(), st.rows_buf.size(), st.uniq_buf, &p.index);
        p.batch = store_->request(tok_table_, st.uniq_buf.data(), st.uniq_buf.size());
    }

    Status check_prepared(const EngramState& st, int64_t il, int64_t n_tok, int64_t pos0) const {
        if (pos0 >= 0 && n_tok >= 0 && (int64_t)st.compressed.size() >= pos0 + n_tok) return {};
        return Error{"Engram layer " + std::to_string(il) + ": positions " + std::to_string(pos0) + ".." +
                     std::to_string(pos0 + n_tok) + " were not prepared"};
    }

    // Calls fn(chunk, p, end) for the pending chunks of layer li that cover
    // positions [pos0, pos0 + n_tok), in order, once each has arrived;
    // requests the rows of any position no chunk covers.
    template <class F>
    Status each_chunk(EngramState& st, int li, int64_t pos0, int64_t n_tok, F&& fn) const {
        for (int64_t p = pos0; p < pos0 + n_tok;) {
            Pending* pc = find_chunk(st, li, p);
            if (!pc) {
                pc = &st.pending[li].push();
                request_layer(st, *pc, li, p, pos0 + n_tok - p);
            }
            if (auto s = store_->wait(*pc->batch); !s) return s;
            const int64_t end = std::min(pos0 + n_tok, pc->pos0 + pc->n);
            fn(*pc, p, end);
            p = end;
        }
        return {};
    }

    static Pending* find_chunk(EngramState& st, int li, int64_t p) {
        for (auto& c : st.pending[li])
            if (p >= c.pos0 && p < c.pos0 + c.n) return &c;
        return nullptr;
    }

    static void drop_consumed(EngramState& st, int li, int64_t end) {
        auto& q = st.pending[li];
        while (!q.empty() && q.front().pos0 + q.front().n <= end) q.pop_front();
    }

    void ensure_scratch(EngramState& st, int64_t n_tok) const {
        if (st.scratch_batch >= n_tok) return;
        const int64_t nb = std::max<int64_t>(n_tok, 1);
        st.scratch.allocate(cfg_, model_.hparams().n_embd, nb);
        st.scratch_batch = nb;
    }

    const Model& model_;
    Config cfg_;
    std::vector<LookupModule> modules_;  // per cfg_.layers entry, pointing into cfg_
    Hasher hasher_;
    std::unique_ptr<TieredStore> store_;
    int tok_table_ = -1;
    std::atomic<uint64_t> compute_us_{0};
    uint64_t weight_bytes_ = 0;
};

}  // namespace

Result<Budget> parse_budget(const std::string& text) { return parse_byte_budget(text, "Engram DRAM budget"); }

std::string default_hot_stats_path(const std::string& model_path) {
    std::string base;
    if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) base = std::string(x) + "/engram-desktop";
    else if (const char* h = std::getenv("HOME"); h && *h) base = std::string(h) + "/.cache/engram-desktop";
    else return {};
    std::error_code ec;
    const auto size = std::filesystem::file_size(model_path, ec);
    const std::string name = std::filesystem::path(model_path).filename().string();
    return base + "/engram-hot/" + name + "." + std::to_string(ec ? 0 : size) + ".hot";
}

Result<EngramOptions> make_options(const std::string& budget, const std::string& policy, bool prefetch,
                                   bool direct_io, bool persist_hot_stats) {
    auto b = parse_budget(budget);
    if (!b) return b.error();
    return make_options(b.value(), policy, prefetch, direct_io, persist_hot_stats);
}

Result<EngramOptions> make_options(const Budget& budget, const std::string& policy, bool prefetch, bool direct_io,
                                   bool persist_hot_stats) {
    EngramOptions o;
    o.dram_budget = budget;
    auto p = tier::parse_policy(policy);
    if (!p) return Error{"Engram cache policy '" + policy + "' is unknown (use wtinylfu or lru)"};
    o.store.policy = *p;
    o.store.prefetch = prefetch;
    o.store.direct_io = direct_io;
    o.persist_hot_stats = persist_hot_stats;
    return o;
}

ExtensionLoader make_loader(EngramOptions opt) {
    return [opt](const Model& m) -> Result<std::unique_ptr<ModelExtension>> {
        const GgufFile& f = m.file();
        if (!has_engram(f)) return std::unique_ptr<ModelExtension>();
        auto cfg = read_config(f, m.hparams());
        if (!cfg) return cfg.error();
        std::vector<TableInfo> tables;
        for (const auto& L : cfg->layers) tables.push_back(L.table);
        int tok_table = -1;
        const HParams& hp = m.hparams();
        if (opt.serve_token_embd && !hp.tied_output) {
            if (const GgufTensorInfo* te = f.find_tensor("token_embd.weight")) {
                TableInfo t;
                t.tensor = te->name;
                t.type = te->type;
                t.key_length = te->ne[0];
                t.n_rows = (uint64_t)te->ne[1];
                t.row_bytes = te->n_bytes / (uint64_t)te->ne[1];
                t.file_offset = f.data_offset() + te->offset;
                t.mapped = te->data;
                tok_table = (int)tables.size();
                tables.push_back(t);
            }
        }
        uint64_t total = 0;
        for (const auto& t : tables) total += t.n_rows * t.row_bytes;
        StoreOptions so = opt.store;
        so.dram_budget_bytes = opt.dram_budget.resolve(total);
        if (so.hot_stats_path.empty() && opt.persist_hot_stats) so.hot_stats_path = default_hot_stats_path(f.path());
        auto store = TieredStore::open(f.path(), std::move(tables), so);
        if (!store) return store.error();
        return std::unique_ptr<ModelExtension>(
            new EngramExtension(m, std::move(cfg.value()), std::move(store.value()), tok_table));
    };
}

Result<std::unique_ptr<Model>> load_model(const std::string& path, EngramOptions opt) {
    return Model::load(path, make_loader(std::move(opt)));
}

}  // namespace eg::engram
