#include "plan/apply.h"

#include <algorithm>
#include <map>

#include "core/log.h"

namespace eg {

Status parse_budget_flags(const BudgetFlags& flags, PlacementRequest& r) {
    if (!flags.vram.empty()) {
        auto v = parse_byte_budget(flags.vram, "VRAM budget");
        if (!v) return v.error();
        r.vram_budget = v.value();
    }
    if (!flags.engram_dram.empty()) {
        auto e = parse_byte_budget(flags.engram_dram, "Engram DRAM budget");
        if (!e) return e.error();
        r.engram_dram_budget = e.value();
    }
    if (!flags.expert_dram.empty()) {
        auto e = parse_byte_budget(flags.expert_dram, "expert DRAM budget");
        if (!e) return e.error();
        r.expert_dram_budget = e.value();
    }
    if (!flags.assume_gpu.empty()) {
        auto g = parse_assumed_gpu(flags.assume_gpu);
        if (!g) return g.error();
        r.assume_gpu = g.value();
    }
    return {};
}

Status parse_budget_flags(const BudgetFlags& flags, PlanRequest& r) {
    if (auto s = parse_budget_flags(flags, static_cast<PlacementRequest&>(r)); !s) return s;
    if (!flags.engram_vram.empty()) {
        auto e = parse_byte_budget(flags.engram_vram, "Engram VRAM budget");
        if (!e) return e.error();
        r.engram_vram_budget = e.value();
    }
    return {};
}

ByteBudget default_engram_dram_budget(const ModelInfo& model) {
    uint64_t total = 0, avail = 0;
    if (!read_meminfo(&total, &avail)) return ByteBudget::all();
    return model.engram_table_bytes() <= avail / 2 ? ByteBudget::all() : ByteBudget::exactly(avail / 2);
}

ByteBudget default_expert_dram_budget(const ModelInfo& model) {
    const uint64_t experts = model.expert_bytes();
    uint64_t total = 0, avail = 0;
    if (experts == 0 || !read_meminfo(&total, &avail)) return ByteBudget::all();
    // Everything else of the model, and a quarter of what is available for
    // the KV cache, the app and the rest of the desktop.
    const uint64_t others = model.file_bytes > experts ? model.file_bytes - experts : 0;
    const uint64_t room = avail - std::min(avail, others + avail / 4);
    return experts <= room ? ByteBudget::all() : ByteBudget::exactly(room);
}

Result<PlannedRun> make_plan(const GgufFile& f, const PlanRequest& r) {
    PlannedRun run;
    auto info = model_info(f);
    if (!info) return info.error();
    run.model = std::move(info.value());
    ProbeOptions po;
    po.refresh = r.refresh_hardware;
    po.ssd_probe_file = r.ssd_probe_file;
    run.hardware = probe_hardware(po);
    if (r.assume_gpu) {
        run.hardware.gpus = {*r.assume_gpu};
        std::erase_if(run.hardware.notes, [](const std::string& n) { return n.rfind("no GPU", 0) == 0; });
        run.hardware.notes.push_back("--assume-gpu: planning for an assumed GPU instead of this machine's");
    }
    Budgets& b = run.budgets;
    const uint64_t vram_free = run.hardware.gpus.empty() ? 0 : run.hardware.gpus[0].vram_free_bytes;
    b.vram_bytes = r.vram_budget ? r.vram_budget->resolve(vram_free) : vram_free;
    const ByteBudget engram = r.engram_dram_budget ? *r.engram_dram_budget : default_engram_dram_budget(run.model);
    b.engram_dram_bytes = engram.resolve(run.model.engram_table_bytes());
    if (r.engram_vram_budget) b.engram_vram_bytes = r.engram_vram_budget->resolve(run.model.engram_table_bytes());
    const ByteBudget experts = r.expert_dram_budget ? *r.expert_dram_budget : default_expert_dram_budget(run.model);
    b.expert_dram_bytes = experts.resolve(run.model.expert_bytes());
    b.n_ctx = r.n_ctx > 0 ? r.n_ctx : std::min<int64_t>(run.model.n_ctx_train, 4096);
    b.n_batch = r.n_batch;
    b.n_threads = r.n_threads;
    b.decode_kv_tokens = r.decode_kv_tokens;
    run.placement = plan(run.model, run.hardware, b);
    return run;
}

Result<PlannedRun> plan_session(const GgufFile& f, const PlanRequest& req, SessionOptions& so) {
    PlanRequest r = req;
    if (r.n_threads == 0) r.n_threads = so.n_threads;  // the session's threads price its kernels
    auto run = make_plan(f, r);
    if (!run) return run.error();
    const Placement& p = run->placement;
    for (const std::string& problem : p.problems) EG_LOG_WARN("plan: {}", problem);
    EG_LOG_INFO("plan: {} of {} blocks on the GPU, output head on {}, predicted {:.1f} tok/s decode", p.n_gpu_blocks,
                p.blocks.size(), p.output_device, p.predicted.decode_tokens_per_s);
    so.split = block_ranges(p);
    so.output_device = p.output_device;
    so.n_ctx = run->budgets.n_ctx;
    so.engram_vram_bytes = p.vram.engram_bytes;
    // Experts beyond their DRAM budget go to the expert tier.
    if (p.experts.ssd_bytes > 0) so.expert_dram_bytes = p.experts.dram_bytes;
    else so.expert_dram_bytes.reset();
    return run;
}

Result<std::unique_ptr<Session>> create_session_or_cpu(const Model& m, SessionOptions so,
                                                       std::vector<std::string>* notes) {
    auto s = Session::create(m, so);
    const bool gpu = std::any_of(so.split.begin(), so.split.end(), [](const BlockRange& b) { return b.device != "cpu"; });
    if (s || !gpu) return s;
    const std::string why = s.message() + "; running every block on the CPU instead";
    if (notes) notes->push_back(why);
    else EG_LOG_WARN("{}", why);
    so.split.clear();
    so.output_device.clear();
    return Session::create(m, so);
}

Result<PlacedSession> place_session(const Model& m, const PlanRequest& r, SessionOptions so) {
    PlacedSession out;
    auto run = plan_session(m.file(), r, so);
    if (!run) return run.error();
    out.run = std::move(run.value());
    auto s = create_session_or_cpu(m, so, &out.notes);
    if (!s) return s.error();
    out.session = std::move(s.value());
    if (out.notes.empty()) out.measured = compare_with_measured(out.run.placement, out.session->memory());
    return out;
}

std::vector<BlockRange> block_ranges(const Placement& p) {
    std::vector<BlockRange> out;
    for (const BlockPlacement& bp : p.blocks) {
        if (out.empty() || out.back().device != bp.device) out.push_back({bp.device, bp.index, bp.index});
        out.back().last = bp.index + 1;
    }
    return out;
}

nlohmann::json compare_with_measured(const Placement& p, const SessionMemory& m) {
    // Predicted per device: VRAM tier for cuda:0, the CPU's share of the DRAM
    // tier for cpu (weights, KV and scratch; Engram rows are the store's).
    std::map<std::string, std::pair<uint64_t, uint64_t>> pred;  // device -> (weights, kv)
    if (p.n_gpu_blocks > 0 || p.output_device != "cpu") pred["cuda:0"] = {p.vram.weights_bytes, p.vram.kv_bytes};
    pred["cpu"] = {p.dram.weights_bytes, p.dram.kv_bytes};
    std::map<std::string, std::pair<uint64_t, uint64_t>> meas;
    for (const DeviceMemory& d : m.devices) {
        auto& x = meas[d.device];
        x.first += d.weights_bytes;
        x.second += d.kv_bytes;
    }
    meas["cpu"].first += m.host_only_weights_bytes();  // read on the CPU, as the plan counts them
    nlohmann::json j = nlohmann::json::object();
    for (const auto& [dev, mv] : meas) {
        const auto pv = pred.count(dev) ? pred[dev] : std::pair<uint64_t, uint64_t>{0, 0};
        auto pct = [](uint64_t got, uint64_t want) {
            return want ? 100.0 * ((double)got - (double)want) / (double)want : 0.0;
        };
        EG_LOG_INFO("plan vs measured on {}: weights {} predicted, {} held ({:+.1f}%); KV {} predicted, {} held "
                    "({:+.1f}%)",
                    dev, format_bytes(pv.first), format_bytes(mv.first), pct(mv.first, pv.first),
                    format_bytes(pv.second), format_bytes(mv.second), pct(mv.second, pv.second));
        j[dev] = {{"predicted", {{"weights_bytes", pv.first}, {"kv_bytes", pv.second}}},
                  {"measured", {{"weights_bytes", mv.first}, {"kv_bytes", mv.second}}}};
    }
    return j;
}

}  // namespace eg
