// Matrix products of quantized weights with float activations on the CPU (the
// bulk of inference time), and row lookup for embedding tables of any type.
#pragma once

#include <cstddef>
#include <cstdint>

#include "quant/types.h"
#include "quant/weight_view.h"  // WeightView: the matrices matmul takes

namespace eg {

class ThreadPool;

// Owns the 64-byte aligned buffer that holds the activations quantized to the
// weight's vec_dot_type. Reserve it at load for the largest batch: matmul()
// grows it (and logs a warning) only when it is too small.
class MatmulScratch {
public:
    MatmulScratch() = default;
    ~MatmulScratch();
    MatmulScratch(const MatmulScratch&) = delete;
    MatmulScratch& operator=(const MatmulScratch&) = delete;

    void reserve(size_t bytes);
    size_t bytes() const { return bytes_; }
    uint8_t* data() { return data_; }

    // Bytes matmul() needs for n_tok rows of k activations against weights of
    // type t, in the file's form or packed (quant/packed.h).
    static size_t bytes_needed(GgmlType t, int64_t k, int64_t n_tok, bool packed = false);

private:
    uint8_t* data_ = nullptr;
    size_t bytes_ = 0;
};

// Y[t*n + j] = dot(W row j, X[t*k .. t*k+k)) for t in [0, n_tok), j in [0, n).
//   X: [k, n_tok] floats (rows of stride k), Y: [n, n_tok] floats (stride n).
// The activations are quantized once per call, then output rows are split
// across the pool's threads. With W.packed the packed kernels run (int8
// activations with a float scale per 32 values; a token gives the same bits
// alone or in a batch); otherwise the file-format kernels, where a tiled
// kernel reuses every weight block for up to 4 tokens. W.type must have
// kernels (kernels_for) and W.k must be a multiple of its block size: the
// model loader checks both.
void matmul(const WeightView& W, const float* X, int64_t n_tok, float* Y, ThreadPool& pool,
            MatmulScratch& scratch);

// Y[i] = W[i] X for up to 4 matrices with the same input (Q, K and V; gate
// and up): packed matrices of one type and k run as one job, their rows
// split across the threads together, the activations quantized once — a
// decode step waits for its threads fewer times. The same results as one
// matmul() each, which is what the others get.
void matmul_n(const WeightView* const* W, float* const* Y, int count, const float* X, int64_t n_tok,
              ThreadPool& pool, MatmulScratch& scratch);

// out[i*W.k ..] = row ids[i] of W, dequantized (embedding lookup). Ids must be
// in [0, W.n).
void get_rows(const WeightView& W, const int32_t* ids, int64_t n_ids, float* out);

// One row of W dequantized to out[0 .. W.k).
void dequantize_row(const WeightView& W, int64_t row, float* out);

}  // namespace eg
