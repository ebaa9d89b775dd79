// The interface between the engine and a GPU backend plugin (a shared
// object loaded with dlopen: libengram-cuda.so, or the tests' fake device).
//
// The plugin is built from the same sources as the program that loads it and
// carries its own static copy of the engine: the two exchange C++ objects
// (Model, LayerBackend, std::string), so they must agree on every layout.
// kEngineAbi names that agreement (the project's version, a digest of the
// engine's headers, the compiler); the loader reads the plugin's string
// (kGpuPluginAbiSymbol, plain data) before it calls anything, and refuses a
// plugin of another ABI with a sentence. Only then does it call the entry
// (kGpuPluginEntry), a C function, which returns the plugin object, alive
// until the process ends (the plugin is never unloaded: its backends' code
// lives in it).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <spdlog/logger.h>

#include "backend/gpu.h"

#ifndef EG_ENGINE_ABI_ID
#error "EG_ENGINE_ABI_ID is defined by engine/CMakeLists.txt (version and header digest)"
#endif
#define EG_ENGINE_ABI EG_ENGINE_ABI_ID " gcc " __VERSION__

#define EG_PLUGIN_EXPORT __attribute__((visibility("default")))

namespace eg {

inline constexpr const char* kEngineAbi = EG_ENGINE_ABI;
inline constexpr const char* kGpuPluginAbiSymbol = "engram_gpu_plugin_abi";
inline constexpr const char* kGpuPluginEntry = "engram_gpu_plugin_v1";

// One range of blocks on one GPU (see make_cuda_backend).
struct GpuRange {
    int device = 0;
    int64_t first = 0, last = 0;
    bool output_head = false;
    int64_t n_ctx = 0, n_batch = 0;
    uint64_t engram_cache_bytes = 0;
};

class GpuPlugin {
public:
    virtual ~GpuPlugin() = default;
    // One line: what it runs on ("CUDA 13.0 runtime (static), driver 13.0").
    virtual std::string describe() const = 0;
    virtual std::vector<GpuInfo> probe(bool measure_bandwidth, std::string* why_none) = 0;
    virtual std::optional<GpuMemoryNow> memory_now(int device) = 0;
    virtual Result<std::unique_ptr<LayerBackend>> make_backend(const Model& m, const GpuRange& r) = 0;
};

// What the program gives the plugin.
struct GpuPluginHost {
    const char* abi = nullptr;                       // the program's kEngineAbi
    std::shared_ptr<spdlog::logger> (*logger)() = nullptr;  // the program's eg::logger
};

// The entry: the plugin, or null with a sentence in why[why_len].
using GpuPluginEntryFn = GpuPlugin* (*)(const GpuPluginHost* host, char* why, size_t why_len);

// For a plugin's entry: checks the host's ABI and adopts its logger, so
// that the plugin's log lines go where the program's go. False with *why
// when the ABIs differ.
bool gpu_plugin_attach(const GpuPluginHost* host, std::string* why);

}  // namespace eg

// A plugin defines its ABI string and entry with this macro:
//   EG_GPU_PLUGIN(make)   where `eg::GpuPlugin* make(std::string* why)`.
#define EG_GPU_PLUGIN(make_fn)                                                                                      \
    extern "C" EG_PLUGIN_EXPORT const char engram_gpu_plugin_abi[] = EG_ENGINE_ABI;                                 \
    extern "C" EG_PLUGIN_EXPORT eg::GpuPlugin* engram_gpu_plugin_v1(const eg::GpuPluginHost* host, char* why,       \
                                                                    size_t why_len) {                               \
        std::string w;                                                                                              \
        eg::GpuPlugin* p = eg::gpu_plugin_attach(host, &w) ? make_fn(&w) : nullptr;                                 \
        if (!p && why && why_len) {                                                                                 \
            const size_t n = std::min(w.size(), why_len - 1);                                                       \
            std::memcpy(why, w.data(), n);                                                                          \
            why[n] = 0;                                                                                             \
        }                                                                                                           \
        return p;                                                                                                   \
    }
