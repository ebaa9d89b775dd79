#include "model/graph.h"

#include <algorithm>
#include <cstdio>

#include "model/arch.h"
#include "model/model.h"

namespace eg {

const char* slot_name(Slot s) {
    static const char* names[kSlotCount] = {"x", "norm", "q", "k", "v", "attn", "tmp", "gate", "up", "act", "router"};
    return names[(int)s];
}

const char* op_name(Op op) {
    switch (op) {
    case Op::RmsNorm: return "rms_norm";
    case Op::Matmul: return "matmul";
    case Op::Add: return "add";
    case Op::Rope: return "rope";
    case Op::StoreKv: return "store_kv";
    case Op::Attention: return "attention";
    case Op::SwiGlu: return "swiglu";
    case Op::GeGlu: return "geglu";
    case Op::Scale: return "scale";
    case Op::MoeRoute: return "moe_route";
    case Op::MoeExperts: return "moe_experts";
    }
    return "?";
}

namespace {

// "50", "0.125", "1e+04": short and exact enough to tell the multipliers apart.
std::string number(float v) {
    char b[32];
    std::snprintf(b, sizeof b, "%.6g", (double)v);
    return b;
}

}  // namespace

std::string BlockGraph::describe() const {
    std::string s;
    for (const Node& n : nodes) {
        s.append(n.name).append(" ").append(op_name(n.op)).append(" ").append(slot_name(n.in));
        if (n.op == Op::StoreKv || n.op == Op::SwiGlu || n.op == Op::GeGlu) s.append(",").append(slot_name(n.in2));
        s.append(" -> ").append(slot_name(n.out)).append(" [").append(std::to_string(n.width)).append("]");
        if (n.op == Op::RmsNorm && n.group != n.width) s.append(" groups of ").append(std::to_string(n.group));
        if (n.op == Op::Matmul && n.vec) s.append(" +bias");
        if (n.op == Op::Attention && n.window > 0) s.append(" window ").append(std::to_string(n.window));
        if (n.op == Op::Attention && n.sinks) s.append(" +sinks");
        if (n.op == Op::Attention && n.softcap > 0) s.append(" softcap ").append(number(n.softcap));
        if (n.op == Op::Scale) s.append(" x ").append(number(n.scale));
        if (n.op == Op::Rope && n.rope_base > 0) s.append(" base ").append(number(n.rope_base));
        if (n.op == Op::Rope && n.rope_scale > 0) s.append(" scale ").append(number(n.rope_scale));
        if (n.op == Op::MoeRoute) {
            s.append(" top ").append(std::to_string(n.routing.n_used));
            s.append(" of ").append(std::to_string(n.routing.n_expert));
            if (n.routing.softmax_chosen) s.append(", softmax over the chosen");
            if (n.routing.renormalize) s.append(", renormalized");
        }
        if (n.op == Op::MoeExperts && n.act.clamped) s.append(" clamped swiglu");
        s.append("\n");
    }
    return s;
}

BlockBuilder::BlockBuilder(const HParams& h, const LayerWeights& l, int64_t layer, BlockGraph& g)
    : hp(h), L(l), il(layer), g_(g) {
    g_.layer = layer;
    g_.width[(int)Slot::X] = h.n_embd;
}

void BlockBuilder::push(Node n, int64_t out_width) {
    int64_t& w = g_.width[(int)n.out];
    w = std::max(w, out_width);
    g_.nodes.push_back(n);
}

namespace {

Node node(Op op, const char* name, Slot in, Slot out, int64_t width) {
    Node n;
    n.op = op;
    n.name = name;
    n.in = in;
    n.out = out;
    n.width = width;
    return n;
}

}  // namespace

void BlockBuilder::rms_norm(const char* name, Slot in, Slot out, int64_t width, VectorRef w, int64_t group) {
    Node n = node(Op::RmsNorm, name, in, out, width);
    n.vec = w;
    n.group = group > 0 ? group : width;
    push(n, width);
}

void BlockBuilder::matmul(const char* name, MatrixRef w, Slot in, Slot out, VectorRef bias) {
    Node n = node(Op::Matmul, name, in, out, (L.*w).n);
    n.w = w;
    n.vec = bias;
    push(n, n.width);
}

void BlockBuilder::add(const char* name, Slot in, Slot out) {
    const int64_t width = g_.width[(int)in];
    push(node(Op::Add, name, in, out, width), width);
}

void BlockBuilder::rope(const char* name, Slot s, int64_t heads, float base, float freq_scale) {
    Node n = node(Op::Rope, name, s, s, heads * hp.head_dim);
    n.heads = heads;
    n.rope_base = base;
    n.rope_scale = freq_scale;
    push(n, n.width);
}

void BlockBuilder::store_kv(Slot k, Slot v) {
    Node n = node(Op::StoreKv, "store_kv", k, k, hp.kv_dim());
    n.in2 = v;
    push(n, n.width);
}

void BlockBuilder::attention(const char* name, Slot q, Slot out, int64_t window, VectorRef sinks, float softcap) {
    Node n = node(Op::Attention, name, q, out, hp.q_dim());
    n.window = window;
    n.sinks = sinks;
    n.softcap = softcap;
    push(n, n.width);
}

void BlockBuilder::swiglu(const char* name, Slot gate, Slot up, Slot out) {
    Node n = node(Op::SwiGlu, name, gate, out, g_.width[(int)gate]);
    n.in2 = up;
    push(n, n.width);
}

void BlockBuilder::geglu(const char* name, Slot gate, Slot up, Slot out) {
    Node n = node(Op::GeGlu, name, gate, out, g_.width[(int)gate]);
    n.in2 = up;
    push(n, n.width);
}

void BlockBuilder::scale(const char* name, Slot s, float c) {
    Node n = node(Op::Scale, name, s, s, g_.width[(int)s]);
    n.scale = c;
    push(n, n.width);
}

void BlockBuilder::moe_route(const char* name, Slot logits, const MoeRouting& r) {
    Node n = node(Op::MoeRoute, name, logits, logits, r.n_expert);
    n.routing = r;
    push(n, n.width);
}

void BlockBuilder::moe_experts(const char* name, Slot in, Slot out, const ExpertActivation& act) {
    Node n = node(Op::MoeExperts, name, in, out, hp.n_embd);
    n.act = act;
    push(n, n.width);
}

namespace {

const std::array<const ArchSpec*, 11>& all_archs() {
    static const std::array<const ArchSpec*, 11> all{&arch_llama(),   &arch_qwen2(),   &arch_qwen3(),
                                                     &arch_qwen3moe(), &arch_olmoe(),  &arch_gptoss(),
                                                     &arch_gemma3(),  &arch_gemma2(),  &arch_phi3(),
                                                     &arch_smollm3(), &arch_granite()};
    return all;
}

}  // namespace

const ArchSpec* find_arch(std::string_view name) {
    for (const ArchSpec* a : all_archs())
        if (a->name == name) return a;
    return nullptr;
}

std::string supported_archs() {
    std::string s;
    for (const ArchSpec* a : all_archs()) s += (s.empty() ? "" : ", ") + std::string(a->name);
    return s;
}

}  // namespace eg
