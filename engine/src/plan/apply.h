// From the user's budgets to a running placement: probe (or assume) the
// hardware, plan, turn the plan into a session's block ranges, and after the
// load compare the bytes each device really holds with the prediction.
#pragma once

#include <string>
#include <vector>

#include "core/result.h"
#include "gguf/gguf.h"
#include "plan/planner.h"
#include "plan/probe.h"
#include "runtime/session.h"

namespace eg {

struct PlanRequest {
    std::string vram_budget;                  // bytes or % of free VRAM; "": all free VRAM
    std::string engram_dram_budget = "100%";  // bytes or % of the Engram tables
    // VRAM for hot Engram rows of GPU blocks, bytes or % of the Engram
    // tables; "": whatever VRAM the blocks leave.
    std::string engram_vram_budget;
    int64_t n_ctx = 0;                        // 0: the model's, at most 4096
    int64_t n_batch = 512;
    int n_threads = 0;                        // CPU threads decoding; 0: physical cores
    int64_t decode_kv_tokens = 0;             // context of a predicted decode token; 0: n_ctx / 2
    std::string assume_gpu;                   // VRAM[,H2D_GBps[,VRAM_GBps]]
    bool refresh_hardware = false;
    std::string ssd_probe_file;               // measure 4 KiB reads on this file ("": default figure)
};

struct PlannedRun {
    ModelInfo model;
    Hardware hardware;
    Budgets budgets;
    Placement placement;
};

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

// The plan's blocks as contiguous ranges per device, for SessionOptions::split.
std::vector<BlockRange> block_ranges(const Placement& p);

// Logs, per device, the bytes the plan predicted next to those the session
// holds, so that estimates can be checked and improved; returns the same as
// JSON ({"cpu":{"predicted":..,"measured":..}, ...}).
nlohmann::json compare_with_measured(const Placement& p, const SessionMemory& m);

}  // namespace eg
