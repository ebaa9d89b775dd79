// The forward of one Engram module (DESIGN.md §4) on the CPU, given the
// gathered rows: key/value projections, the RMSNorm'd query-key gate, and in
// the demo form the causal short convolution over a per-sequence history.
#pragma once

#include <cstdint>
#include <vector>

#include "config.h"
#include "cpu/matmul.h"
#include "model/extension.h"

namespace eg::engram {

// Per-sequence, per-layer state of the demo form's convolution: the conv
// input (RMSNorm'd gated value) of every position, like a KV cache, so that
// truncation is free and incremental decoding equals a full forward.
struct ConvHistory {
    int64_t n_embd = 0;
    std::vector<float> xn;  // [n_ctx, n_embd]

    // Room for n_ctx positions, all zero.
    void allocate(int64_t n_ctx, int64_t n_embd_);
    int64_t n_ctx() const { return n_embd > 0 ? (int64_t)xn.size() / n_embd : 0; }
    uint64_t bytes() const { return xn.capacity() * sizeof(float); }
};

// Scratch of the module forward, sized for the largest batch.
// e [n_batch, E] is a gather buffer for callers that want one; kv [n_batch,
// 2*n_embd] holds the V41 fused projection (key then value); key, value, q
// (normalised query, later the conv output) and tmp (normalised key, later the
// module output) are [n_batch, n_embd]; gate is [n_batch].
struct ModuleScratch {
    std::vector<float> e;                      // [n_batch, gathered_width()]: the caller gathers rows here
    std::vector<float> key, value, q, tmp;     // [n_batch, n_embd]
    std::vector<float> kv, gate;
    MatmulScratch mm;
    int64_t n_batch = 0;
    void allocate(const Config& c, int64_t n_embd, int64_t n_batch);
    uint64_t bytes() const;
};

// x [n_tok, n_embd] += module output for positions pos0 .. pos0+n_tok.
// e [n_tok, gathered_width()] are the gathered, dequantized rows.
// Every position is computed in the same order whatever the batch, so a
// sequence run in pieces (with the same ConvHistory) gives the same bits as in
// one call. Dumps (layer = block index): engram_key, engram_value [n_tok,
// n_embd], engram_gate [n_tok, 1], demo: engram_conv_in (RMSNorm'd v),
// engram_conv (SiLU(conv)); engram_out (what is added to x).
void forward(const Config& c, const LayerTensors& L, int64_t n_embd, float* x, const float* e, int64_t n_tok,
             int64_t pos0, ConvHistory* conv, ModuleScratch& s, ThreadPool& pool, const TensorDumpFn* dump);

}  // namespace eg::engram
