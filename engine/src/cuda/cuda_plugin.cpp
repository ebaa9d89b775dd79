// libengram-cuda.so's entry (backend/gpu_plugin.h): the CUDA backend as a
// GpuPlugin. The CUDA runtime is linked statically, so the plugin's only
// CUDA dependencies are the driver (libcuda.so.1, which the runtime opens
// itself, so its absence is a sentence, not a load failure) and cuBLAS.
#include <cuda_runtime_api.h>

#include "cuda/cuda_plugin.h"

namespace eg::cuda {
namespace {

class CudaPlugin final : public GpuPlugin {
public:
    std::string describe() const override {
        int rt = 0, drv = 0;
        (void)cudaRuntimeGetVersion(&rt);
        (void)cudaDriverGetVersion(&drv);
        (void)cudaGetLastError();
        return "CUDA " + version_text(rt) + " runtime (static), " +
               (drv ? "driver for CUDA " + version_text(drv) : std::string("no driver"));
    }
    std::vector<GpuInfo> probe(bool measure, std::string* why_none) override {
        return probe_devices(measure, why_none);
    }
    std::optional<GpuMemoryNow> memory_now(int device) override { return cuda::memory_now(device); }
    Result<std::unique_ptr<LayerBackend>> make_backend(const Model& m, const GpuRange& r) override {
        if (std::string p = driver_problem(); !p.empty()) return Error{"cuda:" + std::to_string(r.device) + ": " + p};
        return cuda::make_backend(m, r);
    }
};

GpuPlugin* make_plugin(std::string*) {
    static CudaPlugin plugin;
    return &plugin;
}

}  // namespace
}  // namespace eg::cuda

EG_GPU_PLUGIN(eg::cuda::make_plugin)
