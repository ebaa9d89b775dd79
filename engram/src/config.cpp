// Reads ARCH.engram.* and the blk.N.engram_* tensors (DESIGN.md §4) and
// checks every count, range and shape against each other before anything is
// used: a bad file is an error naming the file, the key or tensor, the reason.
// The layer ids, counts and tables come from the engine's reader
// (model/engram_shape.h), the one the planner uses too; the rest is read here.
#include "config.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <memory>

#include "core/fp16.h"
#include "core/log.h"
#include "model/engram_shape.h"
#include "quant/kernels.h"

namespace eg::engram {

namespace {

// Rows of one layer's table may not exceed this (2^40 rows: far beyond any
// real table, small enough that offsets + rows never overflow).
constexpr uint64_t kMaxRows = 1ull << 40;

// An unsigned array of any integer element type, read raw so that u64 values
// above INT64_MAX survive (multipliers may use all 64 bits).
Result<std::vector<uint64_t>> read_u64_array(const GgufFile& f, const std::string& key) {
    const GgufValue* v = f.find(key);
    if (!v) return f.error(key, "missing");
    if (v->type != GgufType::ARRAY) return f.error(key, "expected an array, found " + std::string(gguf_type_name(v->type)));
    std::vector<uint64_t> out(v->count);
    for (uint64_t k = 0; k < v->count; ++k) {
        const uint8_t* p = v->raw;
        int64_t si = 0;
        switch (v->elem_type) {
            case GgufType::U64: std::memcpy(&out[k], p + 8 * k, 8); continue;
            case GgufType::I64: std::memcpy(&si, p + 8 * k, 8); break;
            case GgufType::U32: { uint32_t x; std::memcpy(&x, p + 4 * k, 4); out[k] = x; continue; }
            case GgufType::I32: { int32_t x; std::memcpy(&x, p + 4 * k, 4); si = x; break; }
            default:
                return f.error(key, "expected an array of unsigned integers, found an array of " +
                                        std::string(gguf_type_name(v->elem_type)));
        }
        if (si < 0) return f.error(key + "[" + std::to_string(k) + "]", "negative value " + std::to_string(si));
        out[k] = (uint64_t)si;
    }
    return out;
}

const GgufTensorInfo* tensor(const GgufFile& f, const std::string& name) { return f.find_tensor(name); }

// ne as given, trailing 1s ignored; true when the tensor has exactly that shape.
bool has_shape(const GgufTensorInfo& t, std::initializer_list<int64_t> ne) {
    size_t d = 0;
    for (int64_t n : ne) {
        if (t.ne[d] != n) return false;
        ++d;
    }
    for (; d < 4; ++d)
        if (t.ne[d] != 1) return false;
    return true;
}

// A projection matrix [k, n] the matmul kernels can run.
Result<WeightView> matrix(const GgufFile& f, const std::string& name, int64_t k, int64_t n) {
    const GgufTensorInfo* t = tensor(f, name);
    if (!t) return f.error(name, "missing");
    if (!has_shape(*t, {k, n}))
        return f.error(name, "shape " + t->shape_string() + ", expected [" + std::to_string(k) + ", " + std::to_string(n) + "]");
    const TypeTraits* tt = type_traits(t->type);
    if (!kernels_for(t->type) || !tt)
        return f.error(name, "type " + std::string(type_name((uint32_t)t->type)) + " is not supported for a projection");
    if (k % tt->block_size != 0)
        return f.error(name, "width " + std::to_string(k) + " is not a multiple of the " + std::string(tt->name) +
                                 " block size " + std::to_string(tt->block_size));
    WeightView w;
    w.type = t->type;
    w.k = k;
    w.n = n;
    w.data = t->data;
    w.row_bytes = row_bytes(t->type, k);
    return w;
}

// A small F32 or F16 vector (norm, bias, conv) converted to F32 and kept by
// the Config. shapes: accepted ne lists.
Result<const float*> small_vector(const GgufFile& f, const std::string& name,
                                  std::initializer_list<std::initializer_list<int64_t>> shapes, Config& c) {
    const GgufTensorInfo* t = tensor(f, name);
    if (!t) return f.error(name, "missing");
    bool ok = false;
    std::string expected;
    for (auto s : shapes) {
        ok = ok || has_shape(*t, s);
        expected += expected.empty() ? "[" : " or [";
        size_t i = 0;
        for (int64_t n : s) {
            if (i++) expected += ", ";
            expected += std::to_string(n);
        }
        expected += "]";
    }
    if (!ok) return f.error(name, "shape " + t->shape_string() + ", expected " + expected);
    if (t->type != GgmlType::F32 && t->type != GgmlType::F16)
        return f.error(name, "type " + std::string(type_name((uint32_t)t->type)) + ", expected F32 or F16");
    auto v = std::make_shared<std::vector<float>>(t->n_elements);
    if (t->type == GgmlType::F32) {
        std::memcpy(v->data(), t->data, t->n_elements * 4);
    } else {
        for (uint64_t i = 0; i < t->n_elements; ++i) {
            uint16_t h;
            std::memcpy(&h, t->data + 2 * i, 2);
            (*v)[i] = fp16_to_fp32(h);
        }
    }
    c.owned.push_back(v);
    return (const float*)v->data();
}

}  // namespace

uint64_t Config::table_bytes() const {
    uint64_t b = 0;
    for (const auto& l : layers) b += l.table.n_rows * l.table.row_bytes;
    return b;
}

int Config::index_of_layer(int64_t il) const {
    for (size_t i = 0; i < layer_ids.size(); ++i)
        if (layer_ids[i] == il) return (int)i;
    return -1;
}

bool has_engram(const GgufFile& f) {
    auto arch = f.get_string("general.architecture");
    if (!arch.ok() || !arch.value()) return false;
    return engram_declared(f, *arch.value());
}

Result<Config> read_config(const GgufFile& f, const HParams& hp) {
    const std::string K = hp.arch + ".engram.";
    Config c;
    c.norm_eps = hp.rms_eps;

    // ---- keys ----
    // The layer ids, the counts and the tables' shapes: the engine's reader,
    // shared with the planner (plan/model_info.cpp).
    auto shape_r = read_engram_shape(f, hp.arch, hp.n_layer);
    if (!shape_r.ok()) return shape_r.error();
    if (!shape_r.value()) return f.error(K + "layer_ids", "missing");
    const EngramShape& shape = *shape_r.value();
    c.layer_ids = shape.layer_ids;
    c.head_count = shape.head_count;
    c.key_length = shape.key_length;
    c.max_ngram = shape.max_ngram;
    const int64_t n_layers = (int64_t)c.layer_ids.size();
    const int64_t hpl = c.heads_per_layer();

    // Multipliers: any 64-bit value is accepted (the reference makes them
    // odd, but the hash is well defined for any; an even one only wastes a bit).
    {
        auto m = read_u64_array(f, K + "multipliers");
        if (!m.ok()) return m.error();
        c.multipliers = std::move(m.value());
        if ((int64_t)c.multipliers.size() != n_layers * c.max_ngram)
            return f.error(K + "multipliers", std::to_string(c.multipliers.size()) + " values, expected " +
                                                  std::to_string(n_layers * c.max_ngram) + " (max_ngram_size " +
                                                  std::to_string(c.max_ngram) + " per Engram layer)");
    }
    {
        auto p = read_u64_array(f, K + "primes");
        if (!p.ok()) return p.error();
        c.primes = std::move(p.value());
        if ((int64_t)c.primes.size() != n_layers * hpl)
            return f.error(K + "primes", std::to_string(c.primes.size()) + " values, expected " +
                                             std::to_string(n_layers * hpl) + " ((max_ngram_size-1) x head_count per layer)");
        for (size_t i = 0; i < c.primes.size(); ++i)
            if (c.primes[i] == 0 || c.primes[i] > kMaxRows)
                return f.error(K + "primes[" + std::to_string(i) + "]", "table size " + std::to_string(c.primes[i]) +
                                                                            " is out of range [1, 2^40]");
        auto o = read_u64_array(f, K + "offsets");
        if (!o.ok()) return o.error();
        c.offsets = std::move(o.value());
        if (c.offsets.size() != c.primes.size())
            return f.error(K + "offsets", std::to_string(c.offsets.size()) + " values, expected " +
                                              std::to_string(c.primes.size()) + " (one per prime)");
        for (int64_t l = 0; l < n_layers; ++l) {
            uint64_t sum = 0;
            for (int64_t h = 0; h < hpl; ++h) {
                const size_t i = (size_t)(l * hpl + h);
                if (c.offsets[i] != sum)
                    return f.error(K + "offsets[" + std::to_string(i) + "]",
                                   std::to_string(c.offsets[i]) + ", expected " + std::to_string(sum) +
                                       " (the sum of the layer's earlier primes)");
                sum += c.primes[i];
                if (sum > kMaxRows) return f.error(K + "primes", "layer table of more than 2^40 rows");
            }
        }
    }
    {
        auto tm = f.get_int_array(K + "token_map");
        if (!tm.ok()) return tm.error();
        if (!tm.value()) return f.error(K + "token_map", "missing");
        const auto& v = *tm.value();
        if ((int64_t)v.size() != hp.n_vocab)
            return f.error(K + "token_map", std::to_string(v.size()) + " entries, expected " + std::to_string(hp.n_vocab) +
                                                " (the vocabulary size)");
        c.token_map.resize(v.size());
        int64_t mx = -1;
        for (size_t i = 0; i < v.size(); ++i) {
            // First-seen numbering gives at most one class per token.
            if (v[i] < 0 || v[i] >= hp.n_vocab)
                return f.error(K + "token_map[" + std::to_string(i) + "]",
                               "compressed id " + std::to_string(v[i]) + " is out of range [0, " +
                                   std::to_string(hp.n_vocab) + ")");
            c.token_map[i] = (int32_t)v[i];
            mx = std::max<int64_t>(mx, v[i]);
        }
        c.n_compressed = mx + 1;
        auto pad = read_int_key(f, K + "pad_id", 0, std::numeric_limits<int64_t>::max());
        if (!pad.ok()) return pad.error();
        if (pad.value() >= c.n_compressed)
            return f.error(K + "pad_id", "compressed id " + std::to_string(pad.value()) + " is out of range [0, " +
                                             std::to_string(c.n_compressed) + ") (classes of the token map)");
        c.pad_id = pad.value();
    }

    // ---- form ----
    bool any_demo = false, any_v41 = false;
    for (int64_t il : c.layer_ids) {
        const std::string b = "blk." + std::to_string(il) + ".";
        const bool demo = tensor(f, b + "engram_key.weight") != nullptr;
        const bool v41 = tensor(f, b + "engram_wkv.weight") != nullptr;
        if (demo && v41)
            return f.error(b + "engram_wkv.weight", "both module forms present (" + b + "engram_key.weight too)");
        if (!demo && !v41)
            return f.error(b + "engram_wkv.weight", "missing (neither the DeepSeek-V4.1 " + b +
                                                        "engram_wkv.weight nor the demo " + b + "engram_key.weight)");
        any_demo = any_demo || demo;
        any_v41 = any_v41 || v41;
    }
    if (any_demo && any_v41) return f.error(K + "layer_ids", "layers mix the DeepSeek-V4.1 and the demo module forms");
    c.form = any_demo ? Form::Demo : Form::V41;
    if (c.form == Form::Demo) {
        auto r = read_int_key(f, K + "conv_kernel_size", 1, 64);
        if (!r.ok()) return r.error();
        c.conv_kernel = r.value();
    }

    // ---- tensors ----
    const int64_t E = c.gathered_width();
    const int64_t D = hp.n_embd;
    for (int64_t l = 0; l < n_layers; ++l) {
        const int64_t il = c.layer_ids[(size_t)l];
        const std::string b = "blk." + std::to_string(il) + ".";
        LayerTensors lt;
        lt.layer = il;

        uint64_t rows = 0;
        for (int64_t h = 0; h < hpl; ++h) rows += c.primes[(size_t)(l * hpl + h)];
        // The table's shape and type are checked (read_engram_shape); its
        // rows are one per bucket of the layer's heads.
        const EngramTable& tab = shape.tables[(size_t)l];
        if (tab.rows != rows)
            return f.error("tensor " + tab.tensor, std::to_string(tab.rows) + " rows, but the layer's primes sum to " +
                                                       std::to_string(rows));
        lt.table.tensor = tab.tensor;
        lt.table.type = tab.type;
        lt.table.key_length = c.key_length;
        lt.table.n_rows = rows;
        lt.table.row_bytes = tab.row_bytes;
        lt.table.file_offset = f.data_offset() + tab.info->offset;
        lt.table.mapped = tab.info->data;

        if (c.form == Form::V41) {
            const std::string wn = b + "engram_wkv.weight";
            const GgufTensorInfo* w = tensor(f, wn);
            if (w->ne[0] == E && D > 0 && w->ne[1] % D == 0 && w->ne[1] / D > 2 && has_shape(*w, {E, w->ne[1]}))
                return f.error(wn, "hyper-connections (hc=" + std::to_string(w->ne[1] / D - 1) +
                                       ") are not supported: shape " + w->shape_string() + ", expected [" +
                                       std::to_string(E) + ", " + std::to_string(2 * D) + "] (hc=1)");
            auto wv = matrix(f, wn, E, 2 * D);
            if (!wv.ok()) return wv.error();
            lt.wkv = wv.value();
        } else {
            auto kv = matrix(f, b + "engram_key.weight", E, D);
            if (!kv.ok()) return kv.error();
            lt.key = kv.value();
            auto vv = matrix(f, b + "engram_value.weight", E, D);
            if (!vv.ok()) return vv.error();
            lt.value = vv.value();
            auto kb = small_vector(f, b + "engram_key.bias", {{D}, {D, 1}}, c);
            if (!kb.ok()) return kb.error();
            lt.key_bias = kb.value();
            auto vb = small_vector(f, b + "engram_value.bias", {{D}, {D, 1}}, c);
            if (!vb.ok()) return vb.error();
            lt.value_bias = vb.value();
            auto cv = small_vector(f, b + "engram_conv.weight", {{c.conv_kernel, D}}, c);
            if (!cv.ok()) return cv.error();
            lt.conv = cv.value();
            auto cn = small_vector(f, b + "engram_conv_norm.weight", {{D}, {D, 1}}, c);
            if (!cn.ok()) return cn.error();
            lt.conv_norm = cn.value();
        }
        auto q = small_vector(f, b + "engram_q.weight", {{D}, {D, 1}}, c);
        if (!q.ok()) return q.error();
        lt.q_norm = q.value();
        auto k = small_vector(f, b + "engram_k.weight", {{D}, {D, 1}}, c);
        if (!k.ok()) return k.error();
        lt.k_norm = k.value();
        c.layers.push_back(std::move(lt));
    }
    EG_LOG_DEBUG("engram: {}", describe(c));
    return c;
}

std::string describe(const Config& c) {
    std::string s = c.form == Form::V41 ? "DeepSeek-V4.1 form" : "demo form";
    s += ", blocks";
    for (size_t i = 0; i < c.layer_ids.size(); ++i) {
        s += i ? "," : " ";
        s += std::to_string(c.layer_ids[i]);
    }
    s += ", n-grams 2-" + std::to_string(c.max_ngram) + " x " + std::to_string(c.head_count) + " heads, key_length " +
         std::to_string(c.key_length) + ", " + std::to_string(c.n_compressed) + " compressed ids (pad " +
         std::to_string(c.pad_id) + ")";
    if (c.form == Form::Demo) s += ", conv kernel " + std::to_string(c.conv_kernel);
    for (const auto& l : c.layers) {
        s += "; block " + std::to_string(l.layer) + ": " + std::to_string(l.table.n_rows) + " rows " +
             std::string(type_name((uint32_t)l.table.type)) + ", " +
             std::to_string((l.table.n_rows * l.table.row_bytes + (1u << 19)) >> 20) + " MiB";
    }
    s += "; tables " + std::to_string((c.table_bytes() + (1u << 19)) >> 20) + " MiB";
    return s;
}

}  // namespace eg::engram
