// From the user's budgets to a running placement: probe (or assume) the
// hardware, plan, turn the plan into a session's block ranges, and after the
// load compare the bytes each device really holds with the prediction.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "gguf/gguf.h"
#include "plan/planner.h"
#include "plan/probe.h"
#include "runtime/session.h"

namespace eg {

// What the user chooses for a placement, parsed where it was typed (a
// command-line flag: parse_budget_flags; the memory panel's sliders and
// fields in the window) and carried as is to the engine thread; make_plan
// resolves the budgets against the hardware and the model. Unset: the default.
struct PlacementRequest {
    std::optional<ByteBudget> vram_budget;         // bytes or share of free VRAM; none: all free VRAM
    std::optional<ByteBudget> engram_dram_budget;  // bytes or share of the Engram tables; none: default_engram_dram_budget
    std::optional<ByteBudget> expert_dram_budget;  // bytes or share of a MoE model's experts; none: default_expert_dram_budget
    int64_t n_ctx = 0;                             // 0: the model's, at most 4096
    std::optional<GpuHardware> assume_gpu;         // plan for this GPU instead of the machine's

    bool empty() const {
        return !vram_budget && !engram_dram_budget && !expert_dram_budget && n_ctx == 0 && !assume_gpu;
    }
};

// A placement request with what the programs tune besides.
struct PlanRequest : PlacementRequest {
    // VRAM for hot Engram rows of GPU blocks, bytes or share of the Engram
    // tables; none: whatever VRAM the blocks leave.
    std::optional<ByteBudget> engram_vram_budget;
    int64_t n_batch = 512;
    int n_threads = 0;                        // CPU threads decoding; 0: physical cores
    int64_t decode_kv_tokens = 0;             // context of a predicted decode token; 0: n_ctx / 2
    bool refresh_hardware = false;
    std::string ssd_probe_file;               // measure 4 KiB reads on this file ("": default figure)
};

// The Engram DRAM budget when the user has not set one: all of the tables
// when they take at most half of the available memory, else that half.
ByteBudget default_engram_dram_budget(const ModelInfo& model);

// A MoE model's expert DRAM budget when the user has not set one: all of the
// experts when they fit beside the rest of the model and a quarter of the
// available memory, else what does fit (the others are read from the file).
ByteBudget default_expert_dram_budget(const ModelInfo& model);

// The budget flags as typed on a command line ("" where not given).
struct BudgetFlags {
    std::string vram, engram_dram, engram_vram;
    std::string assume_gpu;  // VRAM[,H2D_GBps[,VRAM_GBps]]
    std::string expert_dram;  // bytes or share of a MoE model's experts
};
// Parses the flags into r (what is empty keeps r's value); the error names
// the flag and says what it should look like. The PlacementRequest form
// ignores engram_vram.
Status parse_budget_flags(const BudgetFlags& flags, PlacementRequest& r);
Status parse_budget_flags(const BudgetFlags& flags, PlanRequest& r);

struct PlannedRun {
    ModelInfo model;
    Hardware hardware;
    Budgets budgets;
    Placement placement;
};
// A plan as its readers share it (the engine thread and the memory panel).
using PlannedRunPtr = std::shared_ptr<const PlannedRun>;

Result<PlannedRun> make_plan(const GgufFile& f, const PlanRequest& r);

// Plans, then sets so.split, so.output_device and so.n_ctx from the plan.
Result<PlannedRun> plan_session(const GgufFile& f, const PlanRequest& r, SessionOptions& so);

// Session::create; when a GPU range fails to load (out of memory, no
// driver), the reason goes to *notes and the session is made on the CPU
// alone — said, never silent.
Result<std::unique_ptr<Session>> create_session_or_cpu(const Model& m, SessionOptions so,
                                                       std::vector<std::string>* notes);

// A session placed by the plan: plan_session, then create_session_or_cpu,
// then compare_with_measured. What the programs and the desktop app call.
struct PlacedSession {
    PlannedRun run;
    std::unique_ptr<Session> session;
    std::vector<std::string> notes;  // a GPU range that could not load, in words
    nlohmann::json measured;         // compare_with_measured; null when the plan could not be followed
};
Result<PlacedSession> place_session(const Model& m, const PlanRequest& r, SessionOptions so);

// A placement made, as the engine thread tells the window (the memory panel).
struct PlacementReport {
    std::string path;                // the model file
    PlannedRunPtr run;
    PlacementRequest applied;        // as applied: the Engram DRAM budget set, n_ctx the plan's
    std::vector<std::string> notes;  // PlacedSession::notes
    nlohmann::json measured;         // PlacedSession::measured
};

// The plan's blocks as contiguous ranges per device, for SessionOptions::split.
std::vector<BlockRange> block_ranges(const Placement& p);

// Logs, per device, the bytes the plan predicted next to those the session
// holds, so that estimates can be checked and improved; returns the same as
// JSON ({"cpu":{"predicted":..,"measured":..}, ...}).
nlohmann::json compare_with_measured(const Placement& p, const SessionMemory& m);

}  // namespace eg
