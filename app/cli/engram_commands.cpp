// engram-cli sub-commands of the Engram memory: engram-rows (the hash of a
// text, for checking other implementations), forge (attach Engram modules to
// a real model) and engram-replay (cache policies on the row trace of a text).
#include <cstdio>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "config.h"
#include "engram_model.h"
#include "forge.h"
#include "model/engram_shape.h"
#include "plan/live.h"
#include "hash.h"
#include "model/synthetic.h"
#include "tier/policy.h"
#include "tier/replay.h"

namespace eg::cli {

namespace {

// A model opened only for its configuration and tokenizer: no table row is read.
std::unique_ptr<Model> load_for_config(const CommonOptions& c0) {
    CommonOptions c = c0;
    c.engram_budget = std::string(1, '0');  // (not = "0": GCC 12 -Wrestrict false positive)
    c.engram_no_hot_stats = true;
    return load_or_report(c);
}

Result<engram::Config> config_or_error(const Model& m) {
    if (!engram::has_engram(m.file()))
        return Error{m.file().path() + ": the model has no Engram layers (no " +
                     engram_key(m.hparams().arch, "layer_ids") + ")"};
    return engram::read_config(m.file(), m.hparams());
}

// The tokens of a text file (no BOS), or false after saying why.
bool read_text_tokens(const Model& m, const std::string& path, std::vector<int32_t>* ids) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        std::fprintf(stderr, "error: cannot read %s\n", path.c_str());
        return false;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    *ids = m.tokenizer().encode(ss.str(), false, false);
    return true;
}

Result<std::vector<int64_t>> parse_int_list(const std::string& s, const char* what) {
    std::vector<int64_t> out;
    std::stringstream ss(s);
    std::string item;
    while (std::getline(ss, item, ',')) {
        try {
            size_t pos = 0;
            const long long v = std::stoll(item, &pos);
            if (pos != item.size()) throw std::invalid_argument(item);
            out.push_back(v);
        } catch (const std::exception&) {
            return Error{std::string(what) + ": '" + item + "' is not an integer"};
        }
    }
    if (out.empty()) return Error{std::string(what) + ": empty list"};
    return out;
}

}  // namespace

int cmd_engram_rows(const CommonOptions& c, const std::string& text, bool add_special) {
    auto m = load_for_config(c);
    if (!m) return 1;
    auto cfg = config_or_error(*m);
    if (!cfg) {
        std::fprintf(stderr, "error: %s\n", cfg.message().c_str());
        return 1;
    }
    const std::vector<int32_t> ids = m->tokenizer().encode(text, add_special, false);
    engram::Hasher h(cfg.value());
    std::vector<int32_t> comp(ids.size());
    for (size_t i = 0; i < ids.size(); ++i) comp[i] = h.compress(ids[i]);
    nlohmann::json j = {{"tokens", ids}, {"compressed", comp}, {"layers", nlohmann::json::array()}};
    const int64_t H = cfg->heads_per_layer();
    std::vector<uint64_t> rows((size_t)H);
    for (size_t li = 0; li < cfg->layers.size(); ++li) {
        nlohmann::json per_pos = nlohmann::json::array();
        for (int64_t t = 0; t < (int64_t)comp.size(); ++t) {
            h.rows_at((int)li, comp.data(), t, rows.data());
            per_pos.push_back(rows);
        }
        j["layers"].push_back({{"layer", cfg->layers[li].layer}, {"rows", per_pos}});
    }
    std::printf("%s\n", j.dump().c_str());
    return 0;
}

namespace {

int forge_synthetic(const ForgeArgs& a) {
    SyntheticOptions o;
    o.arch = a.synthetic;
    o.n_layer = a.n_layer;
    o.n_embd = a.n_embd;
    o.n_head = a.n_head;
    o.n_head_kv = a.n_head_kv;
    o.n_ff = a.n_ff;
    o.n_expert = a.n_expert;
    o.n_expert_used = a.n_expert_used;
    o.n_ff_exp = a.n_ff_exp;
    o.n_vocab = a.n_vocab;
    o.n_ctx = a.n_ctx;
    o.seed = a.seed ? a.seed : 1;
    o.tied_output = !a.untied;
    o.out_path = a.out;
    auto t = parse_synthetic_type(a.type == "f16" ? "f16" : a.type);
    if (!t) {
        std::fprintf(stderr, "error: --type: %s\n", t.message().c_str());
        return 2;
    }
    o.type = t.value();
    if (auto s = write_synthetic_model(o); !s) {
        std::fprintf(stderr, "error: %s\n", s.message().c_str());
        return 1;
    }
    std::fprintf(stderr, "wrote %s\n", a.out.c_str());
    return 0;
}

}  // namespace

int cmd_forge(const ForgeArgs& a) {
    if (!a.synthetic.empty()) return forge_synthetic(a);
    if (a.base.empty()) {
        std::fprintf(stderr, "error: forge needs --base (attach Engram to a model) or --synthetic ARCH\n");
        return 2;
    }
    engram::ForgeOptions o;
    o.base_path = a.base;
    o.out_path = a.out;
    if (a.form == "v41") o.form = engram::Form::V41;
    else if (a.form == "demo") o.form = engram::Form::Demo;
    else {
        std::fprintf(stderr, "error: --form: '%s' is not v41 or demo\n", a.form.c_str());
        return 2;
    }
    auto layers = parse_int_list(a.layers, "--layers");
    if (!layers) {
        std::fprintf(stderr, "error: %s\n", layers.message().c_str());
        return 2;
    }
    o.layers = layers.value();
    if (a.type == "f16") o.type = GgmlType::F16;
    else if (a.type == "q8_0") o.type = GgmlType::Q8_0;
    else {
        std::fprintf(stderr, "error: --type: '%s' is not f16 or q8_0\n", a.type.c_str());
        return 2;
    }
    o.max_ngram = a.max_ngram;
    o.heads = a.heads;
    o.key_length = a.key_length;
    o.rows_per_head = a.rows_per_head;
    o.seed = a.seed;
    o.zero_value = a.zero_value;
    o.conv_kernel = a.conv_kernel;
    if (auto s = engram::forge(o); !s) {
        std::fprintf(stderr, "error: %s\n", s.message().c_str());
        return 1;
    }
    std::fprintf(stderr, "wrote %s\n", a.out.c_str());
    return 0;
}

int cmd_engram_warm(const CommonOptions& c, const std::string& text_file) {
    auto m = load_or_report(c);
    if (!m) return 1;
    ModelExtension* x = m->extension();
    if (!x) {
        std::fprintf(stderr, "error: %s has no Engram layers\n", c.model.c_str());
        return 1;
    }
    std::vector<int32_t> ids;
    if (!read_text_tokens(*m, text_file, &ids)) return 1;
    if (auto s = x->warm(ids.data(), (int64_t)ids.size()); !s) {
        std::fprintf(stderr, "error: %s\n", s.message().c_str());
        return 1;
    }
    nlohmann::json j = {{"text", text_file}, {"tokens", ids.size()}, {"stats", extension_stats_json(x->stats())}};
    std::printf("%s\n", j.dump(2).c_str());
    return 0;  // the hot-row statistics are saved when the model closes
}

int cmd_engram_replay(const CommonOptions& c, const std::string& text_file, const std::string& capacities,
                      int64_t max_tokens) {
    auto m = load_for_config(c);
    if (!m) return 1;
    auto cfg = config_or_error(*m);
    if (!cfg) {
        std::fprintf(stderr, "error: %s\n", cfg.message().c_str());
        return 1;
    }
    std::vector<int32_t> ids;
    if (!read_text_tokens(*m, text_file, &ids)) return 1;
    if (max_tokens > 0 && (int64_t)ids.size() > max_tokens) ids.resize(max_tokens);
    engram::Hasher h(cfg.value());
    std::vector<int32_t> comp(ids.size());
    for (size_t i = 0; i < ids.size(); ++i) comp[i] = h.compress(ids[i]);

    // One trace per table, in the order a decode would look the rows up
    // (duplicates within a position removed, as the store sees them).
    const int64_t H = cfg->heads_per_layer();
    std::vector<std::vector<uint64_t>> traces(cfg->layers.size());
    std::vector<uint64_t> rows((size_t)H);
    for (size_t li = 0; li < cfg->layers.size(); ++li)
        for (int64_t t = 0; t < (int64_t)comp.size(); ++t) {
            h.rows_at((int)li, comp.data(), t, rows.data());
            auto uniq = engram::dedup_rows(rows.data(), rows.size(), nullptr);
            traces[li].insert(traces[li].end(), uniq.begin(), uniq.end());
        }

    nlohmann::json results = nlohmann::json::array();
    std::stringstream cs(capacities);
    std::string item;
    while (std::getline(cs, item, ',')) {
        auto b = engram::parse_budget(item);
        if (!b || !b->fraction) {
            std::fprintf(stderr, "error: --capacity: '%s' is not a percentage\n", item.c_str());
            return 2;
        }
        nlohmann::json r = {{"capacity", item}};
        for (auto kind : {tier::PolicyKind::Lru, tier::PolicyKind::WTinyLfu}) {
            uint64_t acc = 0, hits = 0;
            for (size_t li = 0; li < traces.size(); ++li) {
                const uint64_t cap = (uint64_t)(*b->fraction * (double)cfg->layers[li].table.n_rows);
                const tier::ReplayResult rr = tier::replay(kind, cap, traces[li]);
                acc += rr.accesses;
                hits += rr.hits;
            }
            r[tier::policy_name(kind)] = {{"accesses", acc}, {"hits", hits},
                                            {"hit_rate", acc ? (double)hits / (double)acc : 0.0}};
        }
        // The best any cache of that size could do on the same trace (Belady).
        uint64_t acc = 0, hits = 0;
        for (size_t li = 0; li < traces.size(); ++li) {
            const uint64_t cap = (uint64_t)(*b->fraction * (double)cfg->layers[li].table.n_rows);
            const tier::ReplayResult rr = tier::replay_optimal(cap, traces[li]);
            acc += rr.accesses;
            hits += rr.hits;
        }
        r["optimal"] = {{"accesses", acc}, {"hits", hits}, {"hit_rate", acc ? (double)hits / (double)acc : 0.0}};
        results.push_back(r);
    }
    uint64_t distinct = 0;
    for (auto& t : traces) {
        auto u = engram::dedup_rows(t.data(), t.size(), nullptr);
        distinct += u.size();
    }
    nlohmann::json j = {{"text", text_file}, {"tokens", ids.size()}, {"distinct_rows", distinct},
                        {"results", results}};
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
}

}  // namespace eg::cli
