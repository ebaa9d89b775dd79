// Loading a model with its Engram modules: the ModelExtension that runs them
// inside the engine's decoder, serving their tables from the tiered store.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "config.h"
#include "model/extension.h"
#include "model/model.h"
#include "plan/probe.h"
#include "store.h"

namespace eg::engram {

// A DRAM budget as the user gives it: bytes ("8G", "512M", "1000000") or a
// share of the tables ("25%").
using Budget = ByteBudget;  // plan/probe.h: the same parsing as the VRAM budget's
Result<Budget> parse_budget(const std::string& s);

struct EngramOptions {
    Budget dram_budget{std::nullopt, 1.0};
    StoreOptions store;               // dram_budget_bytes is set from dram_budget
    bool serve_token_embd = true;     // untied models: token_embd from the store
    // Hot-row counts saved and reloaded (store.hot_stats_path, or when empty
    // default_hot_stats_path()) so that a restart warms up fast.
    bool persist_hot_stats = true;
};

// ~/.cache/engram-desktop/engram-hot/<file name>.<size>.hot
std::string default_hot_stats_path(const std::string& model_path);

// Options as the programs take them (--engram-dram-budget, --engram-policy,
// --no-engram-prefetch, --engram-buffered-io, --no-engram-hot-stats).
Result<EngramOptions> make_options(const Budget& budget, const std::string& policy, bool prefetch, bool direct_io,
                                   bool persist_hot_stats);
// The same with the budget as typed ("25%", "8G"): for the command lines and tests.
Result<EngramOptions> make_options(const std::string& budget, const std::string& policy, bool prefetch,
                                   bool direct_io, bool persist_hot_stats);

// The extension loader for Model::load: builds the Engram extension when the
// file declares ARCH.engram.*, else returns nullptr.
ExtensionLoader make_loader(EngramOptions opt);

// Model::load with the Engram extension attached.
Result<std::unique_ptr<Model>> load_model(const std::string& path, EngramOptions opt = {});

}  // namespace eg::engram
