// engram-cli plan (see plan_command.h): reads the model's header and tensor
// table only, probes the machine (cached), resolves the budgets and prints
// the planner's placement with the model and hardware it was made for.
#include "cli/plan_command.h"

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <optional>

#include <nlohmann/json.hpp>

#include "gguf/gguf.h"
#include "plan/model_info.h"
#include "plan/planner.h"
#include "plan/apply.h"
#include "plan/probe.h"

namespace eg::cli {

int cmd_plan(const PlanArgs& a) {
    auto fail = [](const std::string& why) {
        std::fprintf(stderr, "engram-cli plan: %s\n", why.c_str());
        return 1;
    };
    auto file = GgufFile::open(a.model);
    if (!file) return fail(file.message());
    PlanRequest r;
    if (auto s = parse_budget_flags({a.vram_budget, a.engram_dram_budget, a.engram_vram_budget, a.assume_gpu, a.expert_dram_budget}, r); !s)
        return fail(s.message());
    r.n_ctx = a.ctx;
    r.refresh_hardware = a.refresh_hardware;
    if (a.measure_ssd) r.ssd_probe_file = a.model;
    auto run = make_plan(*file.value(), r);
    if (!run) return fail(run.message());
    const ModelInfo& mi = run->model;
    const Hardware& hw = run->hardware;
    const Budgets& b = run->budgets;
    const Placement& p = run->placement;
    nlohmann::json j = to_json(p);
    j["budgets"] = {{"vram_bytes", b.vram_bytes}, {"engram_dram_bytes", b.engram_dram_bytes}, {"n_ctx", b.n_ctx}};
    if (b.engram_vram_bytes != UINT64_MAX) j["budgets"]["engram_vram_bytes"] = b.engram_vram_bytes;
    j["model"] = to_json(mi);
    j["hardware"] = to_json(hw);
    std::cout << j.dump(2) << std::endl;
    return 0;
}

}  // namespace eg::cli
