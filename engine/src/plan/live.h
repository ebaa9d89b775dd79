// What a running model holds and does, measured, in the planner's terms:
// bytes per tier (VRAM, DRAM, SSD) by the planner's categories, the
// extension's tier statistics and the throughput counters. One JSON object
// for the memory panel and for `engram-cli run --stats-json`, so that the
// window can be checked against the command line.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/extension.h"
#include "plan/apply.h"
#include "runtime/session.h"
#include "runtime/throughput.h"

namespace eg {

// Measured bytes of one tier: the planner's TierUsage with the capacity the
// tier has and the budget the user gave it.
struct MeasuredTier {
    TierUsage usage;          // weights, kv, engram (VRAM: hot-row cache; DRAM: resident rows; SSD: rows on disk), scratch
    uint64_t budget_bytes = 0;  // VRAM budget; DRAM: the Engram DRAM budget; SSD: none (0)
    // VRAM: the driver's free and total memory of cuda:0 now (everything on
    // the card, other programs' too); 0 without a GPU. live_figures() sets them.
    uint64_t driver_free_bytes = 0, driver_total_bytes = 0;
};

struct MeasuredMemory {
    MeasuredTier vram, dram, ssd;
};

// From what the session holds (Session::memory()), the extension's tier
// statistics (nullptr: none) and the plan the session was made from.
MeasuredMemory measure_memory(const SessionMemory& mem, const ExtensionStats* ext, const PlannedRun& run);

// {"tiers":{"dram":{"hits","misses","hit_rate","bytes_read","bytes_resident",
// "capacity_bytes"},...},"lookups","rows_fetched","stall_us","lead_us",
// "mean_lead_us","compute_us"}
nlohmann::json extension_stats_json(const ExtensionStats& s);

// What the memory panel shows at one moment, typed: sizes per tier, the
// extension's statistics (none without Engram), the throughput counters and
// the plan's predicted decode rate. Built on the engine thread's side, read
// field by field on the window's; live_json is its JSON form for the CLI.
// A MoE session's expert tier (model/expert_tier.h), with the best hit rate
// any cache of its size could have had on the same accesses.
struct ExpertFigures {
    ExpertTierStats stats;
    double optimal_hit_rate = 0;
    std::string policy;
    std::vector<ExpertTier::Heat> hottest;  // the most-used experts, busiest first (at most 64)
};

struct LiveFigures {
    MeasuredMemory memory;
    std::optional<ExtensionStats> engram;
    std::optional<ExpertFigures> experts;  // none when the experts are all mapped
    ThroughputCounters::Snapshot throughput;
    double predicted_decode_tokens_per_s = 0;

    // One tier of the extension's statistics by name ("dram", "ssd", "vram"); null when absent.
    const TierStats* engram_tier(const std::string& tier) const;
};

LiveFigures live_figures(const SessionMemory& mem, const ExtensionStats* ext, const ThroughputCounters::Snapshot& t,
                         const PlannedRun& run, const ExpertTier* experts = nullptr);

// {"memory":{"vram"|"dram"|"ssd":{"bytes","capacity_bytes","budget_bytes",
// "by_category":{"weights","kv","engram","experts","scratch"}}},"engram":{...}|null,
// "experts":{"capacity","resident","hits","misses","hit_rate","optimal_hit_rate",
// "bytes_read","stall_us","policy"}|null,
// "throughput":{"prefill_tokens","prefill_ms","prefill_tokens_per_s",
// "decode_tokens","decode_ms","decode_tokens_per_s","ttft_ms"},
// "predicted":{"decode_tokens_per_s"}}: `engram-cli run --stats-json`.
nlohmann::json to_json(const LiveFigures& f);

}  // namespace eg
