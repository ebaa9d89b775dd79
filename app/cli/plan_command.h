// engram-cli plan: the placement the planner chooses for a model on this
// machine (or on an assumed GPU) under the two budgets, as JSON.
#pragma once

#include <cstdint>
#include <string>

namespace eg::cli {

struct PlanArgs {
    std::string model;
    std::string vram_budget;                // bytes or % of free VRAM; empty: all free VRAM
    std::string engram_dram_budget = "100%";  // bytes or % of the Engram tables
    std::string engram_vram_budget;         // bytes or % of the Engram tables; empty: what the blocks leave
    int64_t ctx = 0;                        // 0: the model's, at most 4096
    std::string assume_gpu;                 // VRAM[,H2D_GBps[,VRAM_GBps]]: plan for this GPU instead
    std::string expert_dram_budget;         // MoE: bytes or % of the experts; empty: all
    bool refresh_hardware = false;          // measure again instead of using the day-old cache
    bool measure_ssd = false;               // measure 4 KiB random reads on the model file
};

// Prints the plan JSON on stdout; 0 on success (problems are in the JSON),
// 1 with a sentence on stderr when the file or an argument is bad.
int cmd_plan(const PlanArgs& a);

}  // namespace eg::cli
