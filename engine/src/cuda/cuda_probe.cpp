// GPU probing for the plugin (cuda/cuda_plugin.h): the driver, the devices,
// their free VRAM, and the measured pinned host->device and device-copy
// bandwidths.
#include <cstring>
#include <vector>

#include <cuda_runtime_api.h>

#include "cuda/cuda_plugin.h"

namespace eg::cuda {

namespace {

// Times `reps` runs of fn on the current device; seconds per run.
template <class F>
double time_runs(int reps, F&& fn) {
    cudaEvent_t a = nullptr, b = nullptr;
    if (cudaEventCreate(&a) != cudaSuccess || cudaEventCreate(&b) != cudaSuccess) return 0;
    fn();  // warm-up
    (void)cudaEventRecord(a);
    for (int i = 0; i < reps; ++i) fn();
    (void)cudaEventRecord(b);
    (void)cudaEventSynchronize(b);
    float ms = 0;
    (void)cudaEventElapsedTime(&ms, a, b);
    (void)cudaEventDestroy(a);
    (void)cudaEventDestroy(b);
    return (double)ms / 1000.0 / reps;
}

void measure_bandwidth(GpuInfo& g) {
    const uint64_t n = 256ull << 20;  // 256 MiB per copy
    if (g.vram_free < 3 * n) return;
    void* host = nullptr;
    void *d0 = nullptr, *d1 = nullptr;
    if (cudaMallocHost(&host, n) == cudaSuccess && cudaMalloc(&d0, n) == cudaSuccess &&
        cudaMalloc(&d1, n) == cudaSuccess) {
        std::memset(host, 1, n);
        const double th = time_runs(4, [&] { (void)cudaMemcpy(d0, host, n, cudaMemcpyHostToDevice); });
        // A device copy reads n bytes and writes n: HBM moves 2n.
        const double td = time_runs(10, [&] { (void)cudaMemcpy(d1, d0, n, cudaMemcpyDeviceToDevice); });
        if (th > 0) g.h2d_GBps = (double)n / th / 1e9;
        if (td > 0) g.vram_read_GBps = 2.0 * (double)n / td / 1e9;
    }
    (void)cudaGetLastError();
    if (d1) (void)cudaFree(d1);
    if (d0) (void)cudaFree(d0);
    if (host) (void)cudaFreeHost(host);
}

}  // namespace

std::string driver_problem() {
    int drv = 0, rt = 0;
    (void)cudaRuntimeGetVersion(&rt);
    if (cudaDriverGetVersion(&drv) != cudaSuccess || drv == 0) {
        (void)cudaGetLastError();
        return "no NVIDIA driver is installed (libcuda.so.1 was not found)";
    }
    // A driver of the runtime's major version runs it (CUDA's minor version
    // compatibility); an older major does not.
    if (drv / 1000 < rt / 1000)
        return "the NVIDIA driver supports CUDA " + version_text(drv) + " but this plugin needs CUDA " +
               std::to_string(rt / 1000) + ".x: update the driver";
    return {};
}

std::string version_text(int v) { return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10); }

std::optional<GpuMemoryNow> memory_now(int device) {
    int prev = 0;
    if (cudaGetDevice(&prev) != cudaSuccess || cudaSetDevice(device) != cudaSuccess) {
        (void)cudaGetLastError();
        return std::nullopt;
    }
    size_t fb = 0, tb = 0;
    const bool ok = cudaMemGetInfo(&fb, &tb) == cudaSuccess;
    (void)cudaGetLastError();
    (void)cudaSetDevice(prev);
    if (!ok) return std::nullopt;
    return GpuMemoryNow{fb, tb};
}

std::vector<GpuInfo> probe_devices(bool measure, std::string* why_none) {
    std::vector<GpuInfo> out;
    if (std::string p = driver_problem(); !p.empty()) {
        if (why_none) *why_none = p;
        return out;
    }
    int n = 0;
    const cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        if (why_none)
            *why_none = std::string("no usable CUDA driver or device (cudaGetDeviceCount: ") + cudaGetErrorString(e) +
                        ")";
        return out;
    }
    if (n == 0) {
        if (why_none) *why_none = "the CUDA driver reports no GPU";
        return out;
    }
    int prev = 0;
    (void)cudaGetDevice(&prev);
    for (int i = 0; i < n; ++i) {
        cudaDeviceProp p{};
        if (cudaGetDeviceProperties(&p, i) != cudaSuccess || cudaSetDevice(i) != cudaSuccess) {
            (void)cudaGetLastError();
            continue;
        }
        GpuInfo g;
        g.index = i;
        g.name = p.name;
        g.cc_major = p.major;
        g.cc_minor = p.minor;
        size_t fb = 0, tb = 0;
        if (cudaMemGetInfo(&fb, &tb) == cudaSuccess) {
            g.vram_free = fb;
            g.vram_total = tb;
        }
        if (measure) measure_bandwidth(g);
        out.push_back(std::move(g));
    }
    (void)cudaSetDevice(prev);
    if (out.empty() && why_none) *why_none = "no CUDA device could be queried";
    return out;
}

}  // namespace eg::cuda
