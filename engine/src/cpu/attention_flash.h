// Flash-style attention (one pass over the cache per query and KV head,
// online softmax, exact F32 scores): the driver in attention_flash.cpp
// splits the work and merges split queries; the per-ISA files give the
// kernel that runs one (query, KV head) over a range of positions.
// Internal to cpu/.
#pragma once

#include <cstdint>
#include <vector>

#include "cpu/ops.h"

namespace eg::flash {

// The running state of one query head over the positions seen so far.
struct HeadState {
    float m, l;  // maximum score, sum of exp(score - m)
};

// Buffers of one thread, grown by the driver before a kernel runs.
struct Scratch {
    std::vector<float> kf, vf, q;  // [block][hd] K and V rows as F32; [G][hd] scaled queries
};

// Positions [j0, j1) for query token t and the G = n_head / n_head_kv query
// heads of KV head g: updates st[G] and o[G][hd] (o in units of the running
// maximum: the driver divides by l at the end).
using AttendFn = void (*)(const AttentionArgs& a, int64_t t, int64_t g, int64_t j0, int64_t j1, HeadState* st,
                          float* o, Scratch& s);

struct Kernel {
    AttendFn attend = nullptr;  // null: this head size has no kernel
    int block = 0;              // positions per block (the scratch rows)
};

// The AVX-512 (16 positions a block) and AVX2 (8) kernels for a head size.
Kernel kernel_avx512(int64_t head_dim);
Kernel kernel_avx2(int64_t head_dim);

// Runs attention a with kernel k (its attend non-null).
void run(const AttentionArgs& a, ThreadPool& pool, const Kernel& k);

}  // namespace eg::flash
