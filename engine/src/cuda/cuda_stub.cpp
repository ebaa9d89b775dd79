// The CUDA entry points of a build without CUDA (no nvcc found, or
// -DENGRAM_CUDA=OFF), and of the desktop app, which links this stub even when
// the project has CUDA (EG_STUB_BY_CHOICE): each one says which.
#include "backend/gpu.h"
#include "cuda/cuda_ops.h"

namespace eg {

namespace {
#ifdef EG_STUB_BY_CHOICE
const char* kNotBuilt =
    "the desktop app is built without the CUDA backend, so that its package starts on machines without the CUDA "
    "libraries (engram-cli and engram-bench have it)";
#else
const char* kNotBuilt = "this build has no CUDA backend (nvcc was not found when it was configured)";
#endif
}

bool cuda_compiled() { return false; }

std::vector<GpuInfo> cuda_probe(bool, std::string* why_none) {
    if (why_none) *why_none = kNotBuilt;
    return {};
}

Result<std::unique_ptr<LayerBackend>> make_cuda_backend(const Model&, int device, int64_t, int64_t, bool, int64_t,
                                                        int64_t, uint64_t) {
    return Error{"cuda:" + std::to_string(device) + ": " + kNotBuilt};
}

}  // namespace eg

// The per-operation wrappers for tests (cuda/cuda_ops.h).

namespace eg::cuda_ops {

namespace {
Status not_built(int dev) { return Error{"cuda:" + std::to_string(dev) + ": " + std::string(kNotBuilt)}; }
}  // namespace

Status rms_norm(int dev, const float*, const float*, float*, int64_t, int64_t, float) { return not_built(dev); }
Status rope(int dev, float*, int64_t, int64_t, int64_t, int64_t, const RopeTable&, RopeType, const float*, float) {
    return not_built(dev);
}
Status silu_mul(int dev, const float*, const float*, float*, int64_t) { return not_built(dev); }
Status softmax(int dev, const float*, float*, int64_t, int64_t) { return not_built(dev); }
Status attention(int dev, const AttentionArgs&) { return not_built(dev); }
Status matvec(int dev, const WeightView&, const float*, float*) { return not_built(dev); }
Status gemm(int dev, const WeightView&, const float*, int64_t, float*) { return not_built(dev); }
Status get_rows(int dev, const WeightView&, const int32_t*, int64_t, float*) { return not_built(dev); }
Status lookup_gate(int dev, const float*, const float*, int64_t, int64_t, const float*, const float*, const float*,
                   float*, int64_t, int64_t, int64_t, int64_t, float, float*) {
    return not_built(dev);
}
Status lookup_residual(int dev, float*, const float*, const float*, int64_t, const float*, int64_t, int64_t, int64_t,
                       int64_t, int64_t) {
    return not_built(dev);
}
Status scatter_rows(int dev, const void*, const int32_t*, int64_t, int64_t, void*, int64_t) { return not_built(dev); }

}  // namespace eg::cuda_ops
