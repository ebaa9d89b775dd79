#include "plan/live.h"

#include <algorithm>

#include "backend/gpu.h"

namespace eg {

MeasuredMemory measure_memory(const SessionMemory& mem, const ExtensionStats* ext, const PlannedRun& run) {
    MeasuredMemory m;
    uint64_t device_scratch = 0;
    for (const DeviceMemory& d : mem.devices) {
        TierUsage& t = d.device == "cpu" ? m.dram.usage : m.vram.usage;
        // Experts are their own category (the backend counts them in its weights too).
        t.weights_bytes += d.weights_bytes - std::min(d.weights_bytes, d.expert_bytes);
        t.expert_bytes += d.expert_bytes;
        t.kv_bytes += d.kv_bytes;
        t.scratch_bytes += d.scratch_bytes;
        t.engram_bytes += d.engram_bytes;  // a GPU's hot-row slots
        device_scratch += d.scratch_bytes;
    }
    m.dram.usage.weights_bytes += mem.host_only_weights_bytes();
    // The session's own buffers (activations between backends, logits) are host memory.
    m.dram.usage.scratch_bytes += mem.scratch_bytes - std::min(mem.scratch_bytes, device_scratch);
    uint64_t resident = 0;
    if (ext)
        for (const TierStats& t : ext->tiers) {
            if (t.tier == "dram") resident += t.bytes_resident;
        }
    m.dram.usage.engram_bytes = resident;
    // Per-sequence extension state (conv histories) is scratch.
    m.dram.usage.scratch_bytes += mem.extension_bytes - std::min(mem.extension_bytes, resident);
    const uint64_t tables = run.model.engram_table_bytes();
    m.ssd.usage.engram_bytes = tables - std::min(tables, resident);
    // The experts not in DRAM are read from the file (as the plan puts them).
    m.ssd.usage.expert_bytes = run.placement.experts.total_bytes -
                               std::min(run.placement.experts.total_bytes, m.dram.usage.expert_bytes);

    if (!run.hardware.gpus.empty()) m.vram.usage.capacity_bytes = run.hardware.gpus[0].vram_total_bytes;
    m.dram.usage.capacity_bytes = run.hardware.dram_total_bytes;
    m.ssd.usage.capacity_bytes = run.model.file_bytes;
    m.vram.budget_bytes = run.budgets.vram_bytes;
    m.dram.budget_bytes = run.budgets.engram_dram_bytes;
    return m;
}

nlohmann::json extension_stats_json(const ExtensionStats& s) {
    nlohmann::json tiers = nlohmann::json::object();
    for (const auto& t : s.tiers) {
        const uint64_t n = t.hits + t.misses;
        tiers[t.tier] = {{"hits", t.hits},
                         {"misses", t.misses},
                         {"hit_rate", n ? (double)t.hits / (double)n : 0.0},
                         {"bytes_read", t.bytes_read},
                         {"bytes_resident", t.bytes_resident},
                         {"capacity_bytes", t.capacity_bytes}};
    }
    return {{"tiers", tiers},
            {"lookups", s.lookups},
            {"rows_fetched", s.rows_fetched},
            {"stall_us", s.stall_us},
            {"lead_us", s.lead_us},
            {"mean_lead_us", s.rows_fetched ? (double)s.lead_us / (double)s.rows_fetched : 0.0},
            {"compute_us", s.compute_us}};
}

namespace {

nlohmann::json tier_json(const MeasuredTier& t) {
    const TierUsage& u = t.usage;
    nlohmann::json j = {{"bytes", u.bytes()},
            {"capacity_bytes", u.capacity_bytes},
            {"budget_bytes", t.budget_bytes},
            {"by_category",
             {{"weights", u.weights_bytes},
              {"kv", u.kv_bytes},
              {"engram", u.engram_bytes},
              {"experts", u.expert_bytes},
              {"scratch", u.scratch_bytes}}}};
    if (t.driver_total_bytes) {
        j["driver_free_bytes"] = t.driver_free_bytes;
        j["driver_total_bytes"] = t.driver_total_bytes;
    }
    return j;
}

}  // namespace

const TierStats* LiveFigures::engram_tier(const std::string& tier) const {
    if (!engram) return nullptr;
    for (const TierStats& t : engram->tiers)
        if (t.tier == tier) return &t;
    return nullptr;
}

LiveFigures live_figures(const SessionMemory& mem, const ExtensionStats* ext, const ThroughputCounters::Snapshot& t,
                         const PlannedRun& run, const ExpertTier* experts) {
    LiveFigures f;
    f.memory = measure_memory(mem, ext, run);
    if (!run.hardware.gpus.empty() && !run.hardware.gpus[0].assumed)
        if (const auto now = gpu_memory_now(0)) {
            f.memory.vram.driver_free_bytes = now->free;
            f.memory.vram.driver_total_bytes = now->total;
        }
    if (ext) f.engram = *ext;
    if (experts)
        f.experts = ExpertFigures{experts->stats(), experts->optimal_hit_rate(), experts->policy_name(),
                                  experts->hottest(64)};
    f.throughput = t;
    f.predicted_decode_tokens_per_s = run.placement.predicted.decode_tokens_per_s;
    return f;
}

nlohmann::json to_json(const LiveFigures& f) {
    nlohmann::json j;
    j["memory"] = {{"vram", tier_json(f.memory.vram)}, {"dram", tier_json(f.memory.dram)}, {"ssd", tier_json(f.memory.ssd)}};
    j["engram"] = f.engram ? extension_stats_json(*f.engram) : nlohmann::json();
    j["experts"] = nlohmann::json();
    if (f.experts) {
        const ExpertTierStats& x = f.experts->stats;
        j["experts"] = {{"capacity", x.capacity},
                        {"resident", x.resident},
                        {"expert_bytes", x.expert_bytes},
                        {"hits", x.hits},
                        {"misses", x.misses},
                        {"hit_rate", x.hit_rate()},
                        {"optimal_hit_rate", f.experts->optimal_hit_rate},
                        {"traced_hit_rate", x.traced_hit_rate()},
                        {"bytes_read", x.bytes_read},
                        {"stall_us", x.stall_us},
                        {"policy", f.experts->policy}};
        nlohmann::json hot = nlohmann::json::array();
        for (const auto& h : f.experts->hottest)
            hot.push_back({{"layer", h.layer}, {"expert", h.expert}, {"uses", h.uses}, {"resident", h.resident}});
        j["experts"]["hottest"] = hot;
    }
    const ThroughputCounters::Snapshot& t = f.throughput;
    j["throughput"] = {{"prefill_tokens", t.prefill_tokens},
                       {"prefill_ms", t.prefill_ns / 1e6},
                       {"prefill_tokens_per_s", t.prefill_tokens_per_s()},
                       {"decode_tokens", t.decode_tokens},
                       {"decode_ms", t.decode_ns / 1e6},
                       {"decode_tokens_per_s", t.decode_tokens_per_s()},
                       {"ttft_ms", t.last_ttft_us >= 0 ? nlohmann::json(t.last_ttft_us / 1000.0) : nlohmann::json()}};
    j["predicted"] = {{"decode_tokens_per_s", f.predicted_decode_tokens_per_s}};
    return j;
}

}  // namespace eg
