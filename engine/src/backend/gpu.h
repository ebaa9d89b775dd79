// The GPU backend as the rest of the engine sees it: plain C++, no CUDA
// headers. The CUDA backend is a plugin, libengram-cuda.so, loaded at run
// time (backend/gpu_plugin.cpp) the first time any of these functions is
// called, so that no program links a CUDA library and each one runs on the
// CPU where there is no plugin, no driver or no GPU. Each function then says
// why in a sentence; nothing crashes, and the session falls back to the CPU
// only when asked to plan, never silently.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "core/result.h"

namespace eg {

class Model;

struct GpuInfo {
    int index = 0;
    std::string name;
    uint64_t vram_total = 0;
    uint64_t vram_free = 0;
    double h2d_GBps = 0;        // pinned host -> device, measured (0: not measured)
    double vram_read_GBps = 0;  // device -> device copy, measured (0: not measured)
    int cc_major = 0, cc_minor = 0;
};

// The GPU plugin of this process: loaded (and from where, what it runs on)
// or why not. Loads it on the first call; the same answer afterwards.
struct GpuPluginStatus {
    bool loaded = false;
    std::string path;       // the file loaded, or the last one tried
    std::string describe;   // the plugin's own line: "CUDA 13.0 runtime (static), driver 13.0"
    std::string why_not;    // a sentence when not loaded
};
const GpuPluginStatus& gpu_plugin();

// Where the plugin is looked for: ENGRAM_GPU_PLUGIN when set (a path, or
// "none" to run without one), else <program's folder>/../lib/engram-desktop/
// libengram-cuda.so (the packages' layout, and the build tree's).
std::vector<std::string> gpu_plugin_candidates();

// The usable GPUs; empty with a sentence in *why_none when no plugin is
// loaded, there is no driver or no device. measure_bandwidth: also time copies.
std::vector<GpuInfo> cuda_probe(bool measure_bandwidth, std::string* why_none);

// The driver's free and total memory of GPU `device` now; none without it.
struct GpuMemoryNow {
    uint64_t free = 0, total = 0;
};
std::optional<GpuMemoryNow> gpu_memory_now(int device);

// Blocks [first, last) of m on GPU `device` (and the output head when
// output_head), weights uploaded once in their quantized form, KV in VRAM.
// The Engram modules of the range run on the GPU too, their hot rows cached
// in VRAM: engram_cache_bytes shared by the range's tables by size, each
// table getting at least the rows one batch reads.
Result<std::unique_ptr<LayerBackend>> make_cuda_backend(const Model& m, int device, int64_t first, int64_t last,
                                                        bool output_head, int64_t n_ctx, int64_t n_batch,
                                                        uint64_t engram_cache_bytes = 0);

}  // namespace eg
