// ModelInfo from the header and tensor table of a GGUF (see model_info.h).
// The Engram tables come from model/engram_shape.h, the reader of the
// ARCH.engram.* keys the engram library's read_config builds on; the planner
// needs nothing more of the modules.
#include "plan/model_info.h"

#include <algorithm>
#include <charconv>

#include "model/engram_shape.h"
#include "model/moe_shape.h"
#include "quant/kernels.h"
#include "quant/packed.h"

namespace eg {

namespace {

// "blk.12.ffn_up.weight" -> 12 and the rest after "blk.12."; false otherwise.
bool block_of(std::string_view name, int64_t* index, std::string_view* rest) {
    constexpr std::string_view kPrefix = "blk.";
    if (name.substr(0, kPrefix.size()) != kPrefix) return false;
    const char* first = name.data() + kPrefix.size();
    const char* last = name.data() + name.size();
    int64_t v = -1;
    auto [p, ec] = std::from_chars(first, last, v);
    if (ec != std::errc() || p == first || p == last || *p != '.') return false;
    *index = v;
    *rest = std::string_view(p + 1, (size_t)(last - p - 1));
    return true;
}

}  // namespace

uint64_t ModelInfo::blocks_bytes() const {
    uint64_t s = 0;
    for (uint64_t b : block_weight_bytes) s += b;
    return s;
}

uint64_t ModelInfo::weights_bytes() const {
    return blocks_bytes() + token_embd_bytes + (tied_output ? 0 : output_bytes) + output_norm_bytes + other_bytes;
}

uint64_t ModelInfo::engram_table_bytes() const {
    uint64_t s = 0;
    for (const auto& t : engram_tables) s += t.bytes();
    return s;
}

namespace {
// The matrices of a block the CPU backend packs (backend/cpu_backend.cpp).
bool packed_by_cpu(std::string_view rest) {
    for (std::string_view n : {"attn_q.weight", "attn_k.weight", "attn_v.weight", "attn_output.weight",
                               "ffn_gate.weight", "ffn_up.weight", "ffn_down.weight", "ffn_gate_exps.weight",
                               "ffn_up_exps.weight", "ffn_down_exps.weight"})
        if (rest == n) return true;
    return false;
}
bool expert_stack(std::string_view rest) { return rest.size() > 12 && rest.substr(rest.size() - 12) == "_exps.weight"; }
// Bytes the CPU holds of a matrix it may pack: the packed copy where this CPU
// has packed kernels and the type a packed form, else the file's bytes.
// An expert stack (ne [k, rows, n_expert]) is packed expert by expert.
uint64_t cpu_bytes(const GgufTensorInfo& t, bool* packed = nullptr) {
    const bool shape = t.n_dims == 2 || t.n_dims == 3;
    const int64_t b = shape && packed_kernels_available() ? packed_bytes(t.type, t.ne[0], t.ne[1]) : -1;
    if (packed) *packed = b >= 0;
    if (b < 0) return t.n_bytes;
    return (uint64_t)b * (t.n_dims == 3 ? (uint64_t)t.ne[2] : 1);
}
}  // namespace

uint64_t ModelInfo::expert_bytes() const {
    uint64_t n = 0;
    for (uint64_t b : block_expert_bytes) n += b;
    return n;
}

Result<ModelInfo> model_info(const GgufFile& f) {
    ModelInfo mi;
    mi.path = f.path();
    mi.file_bytes = f.file_bytes();
    auto arch = f.get_string("general.architecture");
    if (!arch) return arch.error();
    if (!arch.value() || arch.value()->empty()) return f.error("general.architecture", "missing");
    mi.arch = *arch.value();
    const std::string a = mi.arch + ".";

    auto get = [&](const std::string& key, bool required, int64_t lo, int64_t hi, int64_t* out) -> Status {
        auto v = f.get_int(a + key);
        if (!v) return v.error();
        if (!v.value()) return required ? Status(f.error(a + key, "missing")) : Status();
        if (*v.value() < lo || *v.value() > hi)
            return f.error(a + key, "value " + std::to_string(*v.value()) + " is outside [" + std::to_string(lo) +
                                        ", " + std::to_string(hi) + "]");
        *out = *v.value();
        return {};
    };
    if (auto s = get("block_count", true, 1, 4096, &mi.n_layer); !s) return s.error();
    if (auto s = get("embedding_length", true, 1, 1 << 17, &mi.n_embd); !s) return s.error();
    if (auto s = get("feed_forward_length", true, 1, 1 << 20, &mi.n_ff); !s) return s.error();
    if (auto s = get("attention.head_count", true, 1, 1 << 12, &mi.n_head); !s) return s.error();
    mi.n_head_kv = mi.n_head;
    if (auto s = get("attention.head_count_kv", false, 1, mi.n_head, &mi.n_head_kv); !s) return s.error();
    mi.head_dim = mi.n_embd / mi.n_head;
    if (auto s = get("attention.key_length", false, 1, 1 << 12, &mi.head_dim); !s) return s.error();
    if (mi.head_dim < 1) return f.error(a + "embedding_length", "is smaller than the head count");
    if (auto s = get("context_length", true, 1, 1 << 24, &mi.n_ctx_train); !s) return s.error();

    // Experts: the keys and the tensors must agree before anything is planned.
    auto moe = read_moe_shape(f, mi.arch, mi.n_layer, mi.n_embd);
    if (!moe) return moe.error();
    mi.block_expert_bytes.assign((size_t)mi.n_layer, 0);
    if (moe.value()) {
        mi.n_expert = moe.value()->n_expert;
        mi.n_expert_used = moe.value()->n_expert_used;
        for (const MoeLayer& l : moe.value()->layers)
            mi.block_expert_bytes[(size_t)l.layer] = l.expert_bytes * (uint64_t)mi.n_expert;
    }

    mi.block_weight_bytes.assign((size_t)mi.n_layer, 0);
    mi.block_cpu_bytes.assign((size_t)mi.n_layer, 0);
    mi.block_cpu_matrices.assign((size_t)mi.n_layer, {});
    mi.block_cpu_calls.assign((size_t)mi.n_layer, 0);
    mi.block_expert_cpu_bytes.assign((size_t)mi.n_layer, 0);
    std::vector<uint64_t> slot_bytes((size_t)mi.n_layer, 0);
    // Per block: the types of its Q, K, V and of its gate, up (the CPU runs
    // packed matrices of one type and one input as one product).
    std::vector<std::vector<std::pair<std::string, const GgufTensorInfo*>>> mats((size_t)mi.n_layer);
    bool have_output = false, have_tok = false;
    for (const GgufTensorInfo& t : f.tensors()) {
        int64_t il = -1;
        std::string_view rest;
        if (block_of(t.name, &il, &rest)) {
            if (il < 0 || il >= mi.n_layer)
                return f.error("tensor " + t.name, "block " + std::to_string(il) + " is past " + a +
                                                       "block_count (" + std::to_string(mi.n_layer) + ")");
            if (rest != "engram_embd.weight") {
                mi.block_weight_bytes[(size_t)il] += t.n_bytes;
                const bool mat = packed_by_cpu(rest);
                mi.block_cpu_bytes[(size_t)il] += mat ? cpu_bytes(t) : t.n_bytes;
                if (mat && expert_stack(rest)) {
                    // A token streams the experts it runs: their share of the stack.
                    mi.block_expert_cpu_bytes[(size_t)il] += cpu_bytes(t);
                    if (mi.n_expert > 0) slot_bytes[(size_t)il] += (t.n_bytes / (uint64_t)mi.n_expert + 4095) / 4096 * 4096;
                    const double share = mi.n_expert > 0 ? (double)mi.n_expert_used / (double)mi.n_expert : 1.0;
                    mi.block_cpu_matrices[(size_t)il].push_back(
                        {(uint32_t)t.type, (uint64_t)((double)cpu_bytes(t) * share)});
                } else if (mat) {
                    mi.block_cpu_matrices[(size_t)il].push_back({(uint32_t)t.type, cpu_bytes(t)});
                    mats[(size_t)il].push_back({std::string(rest), &t});
                }
            }
        } else if (t.name == "token_embd.weight") {
            have_tok = true;
            mi.token_embd_bytes = t.n_bytes;
            if (t.n_dims != 2 || t.ne[0] != mi.n_embd)
                return f.error("tensor token_embd.weight", "shape is not [" + std::to_string(mi.n_embd) + ", n_vocab]");
            mi.n_vocab = t.ne[1];
            mi.token_row_bytes = t.ne[1] > 0 ? t.n_bytes / (uint64_t)t.ne[1] : 0;
            if (!have_output) {
                mi.output_cpu_bytes = cpu_bytes(t, &mi.output_cpu_packed);
                mi.head_cpu_matrix = {(uint32_t)t.type, mi.output_cpu_bytes};
            }
        } else if (t.name == "output.weight") {
            have_output = true;
            mi.output_bytes = t.n_bytes;
            mi.output_cpu_bytes = cpu_bytes(t, &mi.output_cpu_packed);
            mi.head_cpu_matrix = {(uint32_t)t.type, mi.output_cpu_bytes};
        } else if (t.name == "output_norm.weight") {
            mi.output_norm_bytes = t.n_bytes;
        } else {
            mi.other_bytes += t.n_bytes;
        }
    }
    if (!have_tok) return f.error("tensor token_embd.weight", "missing");
    for (uint64_t b : slot_bytes) mi.expert_slot_bytes = std::max(mi.expert_slot_bytes, b);
    for (size_t il = 0; il < mats.size(); ++il) {
        // Products: one per matrix, less the ones that run together.
        int64_t calls = (int64_t)mats[il].size();
        for (const std::vector<std::string_view>& group :
             {std::vector<std::string_view>{"attn_q.weight", "attn_k.weight", "attn_v.weight"},
              std::vector<std::string_view>{"ffn_gate.weight", "ffn_up.weight"}}) {
            const GgufTensorInfo* first = nullptr;
            int64_t found = 0;
            bool together = true;
            for (const auto& [name, t] : mats[il])
                if (std::find(group.begin(), group.end(), name) != group.end()) {
                    bool packed = false;
                    cpu_bytes(*t, &packed);
                    together = together && packed && (!first || (t->type == first->type && t->ne[0] == first->ne[0]));
                    if (!first) first = t;
                    ++found;
                }
            if (together && found > 1) calls -= found - 1;
        }
        // A MoE block: the router, then per expert a token runs gate and up
        // as one product and down as another.
        if (mi.block_expert_bytes[il] > 0) calls += 1 + 2 * mi.n_expert_used;
        mi.block_cpu_calls[il] = calls;
    }
    mi.tied_output = !have_output;
    if (mi.tied_output) mi.output_bytes = mi.token_embd_bytes;

    // Engram: ARCH.engram.layer_ids names the blocks; each has a table.
    auto engram = read_engram_shape(f, mi.arch, mi.n_layer);
    if (!engram) return engram.error();
    if (!engram.value()) return mi;
    const EngramShape& es = *engram.value();
    mi.engram_head_count = es.head_count;
    mi.engram_max_ngram = es.max_ngram;
    for (const EngramTable& t : es.tables) {
        EngramTableShape e;
        e.layer = t.layer;
        e.tensor = t.tensor;
        e.rows = t.rows;
        e.row_bytes = t.row_bytes;
        e.row_values = es.key_length;
        e.has_conv = f.find_tensor("blk." + std::to_string(t.layer) + ".engram_conv.weight") != nullptr;
        mi.engram_tables.push_back(std::move(e));
    }
    return mi;
}

}  // namespace eg
