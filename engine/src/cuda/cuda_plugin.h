// What the CUDA plugin's entry (cuda_plugin.cpp) offers the loader, defined
// by cuda_probe.cpp and cuda_backend.cpp. Internal to src/cuda.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "backend/gpu_plugin.h"

namespace eg::cuda {

// "13.0" from 13000.
std::string version_text(int cuda_version);
// Empty, or why the driver cannot run this plugin (none, or too old).
std::string driver_problem();
std::vector<GpuInfo> probe_devices(bool measure_bandwidth, std::string* why_none);
std::optional<GpuMemoryNow> memory_now(int device);
Result<std::unique_ptr<LayerBackend>> make_backend(const Model& m, const GpuRange& r);

}  // namespace eg::cuda
