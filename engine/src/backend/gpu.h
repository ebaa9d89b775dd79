// The GPU backend as the rest of the engine sees it: plain C++, no CUDA
// headers. These functions are a link-time plugin interface: the engine
// (runtime/session.cpp, plan/probe.cpp) calls them, and only engine/src/cuda/
// defines them, in one of two object libraries a program links (see
// engine/CMakeLists.txt): eg_gpu, the CUDA backend, or eg_gpu_stub, whose
// functions say why there is none. Without CUDA in the build (or without a
// GPU) every function says why in a sentence; nothing crashes and the session
// falls back to the CPU only when asked to plan, never silently.
#pragma once

#include <cstdint>
#include <memory>
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

// Whether this build has the CUDA backend.
bool cuda_compiled();

// The usable GPUs; empty with a sentence in *why_none when CUDA is not built,
// there is no driver or no device. measure_bandwidth: also time copies.
std::vector<GpuInfo> cuda_probe(bool measure_bandwidth, std::string* why_none);

// Blocks [first, last) of m on GPU `device` (and the output head when
// output_head), weights uploaded once in their quantized form, KV in VRAM.
// The Engram modules of the range run on the GPU too, their hot rows cached
// in VRAM: engram_cache_bytes shared by the range's tables by size, each
// table getting at least the rows one batch reads.
Result<std::unique_ptr<LayerBackend>> make_cuda_backend(const Model& m, int device, int64_t first, int64_t last,
                                                        bool output_head, int64_t n_ctx, int64_t n_batch,
                                                        uint64_t engram_cache_bytes = 0);

}  // namespace eg
