// The per-operation wrappers (cuda/cuda_ops.h) of a build without CUDA (no
// nvcc found, or -DENGRAM_CUDA=OFF), for test_backend_ops: each says why.
#include "cuda/cuda_ops.h"

namespace eg::cuda_ops {

namespace {
Status not_built(int dev) {
    return Error{"cuda:" + std::to_string(dev) +
                 ": this build has no CUDA backend (nvcc was not found when it was configured)"};
}
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
