// Small host helpers of the CUDA backend: errors as sentences, a device
// buffer that frees itself, and allocation that names what it was for.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include "core/result.h"

namespace eg::cuda {

std::string mib(uint64_t bytes);

// "cuda:0: cudaMemcpyAsync (upload of x) failed: invalid argument"
Error cuda_error(int device, const char* call, const std::string& what, cudaError_t e);
Error cublas_error(int device, const char* call, const std::string& what, cublasStatus_t st);

// A device allocation; moves, never copies.
class DevBuffer {
public:
    DevBuffer() = default;
    ~DevBuffer() { reset(); }
    DevBuffer(DevBuffer&& o) noexcept : p_(std::exchange(o.p_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}
    DevBuffer& operator=(DevBuffer&& o) noexcept {
        if (this != &o) {
            reset();
            p_ = std::exchange(o.p_, nullptr);
            bytes_ = std::exchange(o.bytes_, 0);
        }
        return *this;
    }
    DevBuffer(const DevBuffer&) = delete;
    DevBuffer& operator=(const DevBuffer&) = delete;

    // Allocates `bytes` on the current device; on failure a sentence naming
    // `what`, the size and the free memory ("out of memory uploading ...").
    Status alloc(int device, uint64_t bytes, const std::string& what);
    void reset();

    void* get() const { return p_; }
    template <class T>
    T* as() const {
        return static_cast<T*>(p_);
    }
    uint64_t bytes() const { return bytes_; }

private:
    void* p_ = nullptr;
    uint64_t bytes_ = 0;
};

}  // namespace eg::cuda
