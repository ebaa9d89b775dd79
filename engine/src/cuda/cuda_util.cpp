// Small host helpers of the CUDA backend (cuda_util.h): errors as
// sentences and a device buffer that frees itself.
#include "cuda/cuda_util.h"

namespace eg {

namespace cuda {

std::string mib(uint64_t bytes) {
    const uint64_t m = (bytes + (1u << 20) - 1) >> 20;
    return std::to_string(m) + " MiB";
}

Error cuda_error(int device, const char* call, const std::string& what, cudaError_t e) {
    return Error{"cuda:" + std::to_string(device) + ": " + call + " (" + what + ") failed: " + cudaGetErrorString(e)};
}

Error cublas_error(int device, const char* call, const std::string& what, cublasStatus_t st) {
    return Error{"cuda:" + std::to_string(device) + ": " + call + " (" + what + ") failed with cuBLAS status " +
                 std::to_string((int)st)};
}

Status DevBuffer::alloc(int device, uint64_t bytes, const std::string& what) {
    reset();
    if (bytes == 0) return {};
    void* p = nullptr;
    const cudaError_t e = cudaMalloc(&p, bytes);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();  // clear the sticky-free allocation error
        size_t free_b = 0, total_b = 0;
        (void)cudaMemGetInfo(&free_b, &total_b);
        if (e == cudaErrorMemoryAllocation)
            return Error{"cuda:" + std::to_string(device) + ": out of memory " + what + " (needs " + mib(bytes) +
                         ", " + mib(free_b) + " free)"};
        return cuda_error(device, "cudaMalloc", what, e);
    }
    p_ = p;
    bytes_ = bytes;
    return {};
}

void DevBuffer::reset() {
    if (p_) (void)cudaFree(p_);
    p_ = nullptr;
    bytes_ = 0;
}

}  // namespace cuda

}  // namespace eg
