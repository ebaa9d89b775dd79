#include "model/moe_shape.h"

namespace eg {

uint64_t MoeShape::expert_bytes() const {
    uint64_t n = 0;
    for (const MoeLayer& l : layers) n += l.expert_bytes * (uint64_t)n_expert;
    return n;
}

namespace {

std::string blk(int64_t il, const char* what) { return "blk." + std::to_string(il) + "." + what; }

// "[a, b, c]" for the shape a tensor should have.
std::string dims(std::initializer_list<int64_t> ne) {
    std::string s = "[";
    for (int64_t d : ne) s += (s.size() > 1 ? ", " : "") + std::to_string(d);
    return s + "]";
}

bool has_shape(const GgufTensorInfo& t, std::initializer_list<int64_t> ne) {
    if (t.n_dims != ne.size()) return false;
    size_t i = 0;
    for (int64_t d : ne)
        if (t.ne[i++] != d) return false;
    return true;
}

}  // namespace

Result<std::optional<MoeShape>> read_moe_shape(const GgufFile& f, std::string_view arch, int64_t n_layer,
                                               int64_t n_embd) {
    const std::string a = std::string(arch) + ".";
    const std::string count_key = a + "expert_count", used_key = a + "expert_used_count",
                      width_key = a + "expert_feed_forward_length";
    const GgufTensorInfo* first_expert = nullptr;
    for (int64_t il = 0; il < n_layer && !first_expert; ++il)
        for (const char* n : {"ffn_gate_exps.weight", "ffn_up_exps.weight", "ffn_down_exps.weight"})
            if (!first_expert) first_expert = f.find_tensor(blk(il, n));
    if (!f.find(count_key) && !first_expert) return std::optional<MoeShape>();
    if (!f.find(count_key))
        return f.error("tensor " + first_expert->name, "an expert matrix, but " + count_key + " is missing");

    auto get = [&](const std::string& key, int64_t lo, int64_t hi) -> Result<int64_t> {
        auto v = f.get_int(key);
        if (!v) return v.error();
        if (!v.value()) return f.error(key, "missing");
        if (*v.value() < lo || *v.value() > hi)
            return f.error(key, std::to_string(*v.value()) + " is out of range [" + std::to_string(lo) + ", " +
                                    std::to_string(hi) + "]");
        return *v.value();
    };
    MoeShape s;
    auto n = get(count_key, 1, 1 << 16);
    if (!n) return n.error();
    s.n_expert = n.value();
    auto used = get(used_key, 1, s.n_expert);
    if (!used) return used.error();
    s.n_expert_used = used.value();
    // The width: the key where the file has it (llama.cpp's olmoe reads
    // feed_forward_length instead, qwen3moe this key); either way the expert
    // tensors must have it, so a file whose key and tensors disagree is
    // refused rather than guessed at.
    if (f.find(width_key)) {
        auto w = get(width_key, 1, 1 << 20);
        if (!w) return w.error();
        s.n_ff_exp = w.value();
    } else if (first_expert) {
        // Without the key, the gate's width (llama.cpp falls back to feed_forward_length).
        s.n_ff_exp = first_expert->ne[first_expert->name.find("down") != std::string::npos ? 0 : 1];
    }

    for (int64_t il = 0; il < n_layer; ++il) {
        MoeLayer l;
        l.layer = il;
        l.gate = f.find_tensor(blk(il, "ffn_gate_exps.weight"));
        l.up = f.find_tensor(blk(il, "ffn_up_exps.weight"));
        l.down = f.find_tensor(blk(il, "ffn_down_exps.weight"));
        l.router = f.find_tensor(blk(il, "ffn_gate_inp.weight"));
        if (!l.gate && !l.up && !l.down) {
            if (l.router) return f.error("tensor " + l.router->name, "a router in a block without experts");
            continue;  // a dense block (e.g. the leading ones of some MoE models)
        }
        for (auto [t, name] : {std::pair{l.gate, "ffn_gate_exps.weight"}, std::pair{l.up, "ffn_up_exps.weight"},
                               std::pair{l.down, "ffn_down_exps.weight"}, std::pair{l.router, "ffn_gate_inp.weight"}})
            if (!t) return f.error("tensor " + blk(il, name), "missing (the block has other expert tensors)");
        const int64_t E = s.n_expert, D = n_embd, F = s.n_ff_exp;
        if (!has_shape(*l.router, {D, E}))
            return f.error("tensor " + l.router->name,
                           "shape " + l.router->shape_string() + ", expected " + dims({D, E}) + " (" + count_key +
                               " is " + std::to_string(E) + ")");
        for (const GgufTensorInfo* t : {l.gate, l.up})
            if (!has_shape(*t, {D, F, E}))
                return f.error("tensor " + t->name, "shape " + t->shape_string() + ", expected " + dims({D, F, E}) +
                                                         " (n_embd, " + width_key + ", " + count_key + ")");
        if (!has_shape(*l.down, {F, D, E}))
            return f.error("tensor " + l.down->name, "shape " + l.down->shape_string() + ", expected " +
                                                         dims({F, D, E}) + " (" + width_key + ", n_embd, " +
                                                         count_key + ")");
        for (const GgufTensorInfo* t : {l.gate, l.up, l.down}) {
            if (t->n_bytes % (uint64_t)E != 0)
                return f.error("tensor " + t->name, std::to_string(t->n_bytes) + " bytes do not split into " +
                                                         std::to_string(E) + " experts");
            l.expert_bytes += t->n_bytes / (uint64_t)E;
        }
        s.layers.push_back(l);
    }
    if (s.layers.empty()) return f.error(count_key, "is set, but no block has expert tensors (blk.N.ffn_gate_exps.weight)");
    return std::optional<MoeShape>(std::move(s));
}

}  // namespace eg
