// The planner (DESIGN.md §3): a pure function from a model's shape, the
// machine and the user's two budgets to a placement — which blocks run on
// the GPU, where the output head, KV caches and Engram rows live, the bytes
// per tier by category, a predicted decode speed, and a sentence for every
// budget that cannot hold what it is asked to.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/units.h"  // format_bytes: sizes in problem sentences
#include "plan/model_info.h"

namespace eg {

// Defaults used where a figure was not measured (each documented in JSON).
constexpr double kDefaultDramReadGBps = 20.0;   // dual-channel DDR4 desktop, all cores
constexpr double kDefaultSsdReadGBps = 0.5;     // 4 KiB random reads, NVMe at moderate queue depth (~120K IOPS)
constexpr double kDefaultH2dGBps = 25.0;        // PCIe 4.0 x16, pinned
constexpr double kDefaultVramReadGBps = 900.0;  // a 24 GB desktop card (3090/4090 class)
constexpr double kPcieLatencyUs = 10.0;         // one synchronised copy across PCIe
constexpr double kZipfExponent = 1.0;           // n-gram row popularity, see planner.cpp

struct GpuHardware {
    std::string name;                    // "NVIDIA H200", "assumed"
    uint64_t vram_total_bytes = 0;
    uint64_t vram_free_bytes = 0;
    double h2d_GBps = 0;                 // pinned host -> device (0: not measured)
    double vram_read_GBps = 0;           // device memory read (0: not measured)
    int cc_major = 0, cc_minor = 0;      // compute capability (0.0: unknown, assumed)
    bool assumed = false;                // --assume-gpu: planned for, not on this machine
};

// How fast this CPU's matrix-vector products run on weights already in its
// caches, per weight type: GB/s of the weights as the CPU holds them (packed
// where it packs), with 1 thread and with all cores; and the fixed cost of
// one product (waking the threads, quantizing x). Each matrix of a decode
// step is priced by the slower of this and memory: on a CPU whose last-level
// cache holds the model, the kernels are the limit.
struct CpuKernelRate {
    uint32_t type = 0;                   // GGUF type number
    double GBps_1t = 0, GBps_all = 0;
    // The same kernels streaming a matrix no cache holds (decode of a model
    // larger than the last-level cache); 0: not measured (DRAM's figure).
    double stream_GBps_1t = 0, stream_GBps_all = 0;
};

// How fast this CPU's decode attention runs over an F16 KV cache, one query
// per head against many positions, for one head size, with 1 thread and
// with all cores: multiply-adds (QK and PV, softmax included) per second
// when the cache's caches hold the KV, and KV bytes per second when it comes
// from DRAM (a long context of many layers).
struct CpuAttentionRate {
    int64_t head_dim = 0;
    double GMACs_1t = 0, GMACs_all = 0;
    double stream_GBps_1t = 0, stream_GBps_all = 0;  // 0: not measured
};

struct Hardware {
    uint64_t dram_total_bytes = 0;       // MemTotal
    uint64_t dram_free_bytes = 0;        // MemAvailable (free + reclaimable cache)
    double dram_read_GBps = 0;           // measured on all cores; 0: use the default
    double dram_read_1t_GBps = 0;        // measured on one thread; 0: not measured
    int cpu_threads = 0;                 // the cores the "all" figures used (physical cores)
    uint64_t llc_bytes = 0;              // last-level cache; 0: unknown
    double llc_read_GBps = 0, llc_read_1t_GBps = 0;  // reads the cache serves; 0: not measured
    std::vector<CpuKernelRate> cpu_matvec;  // empty: not measured
    double cpu_matvec_call_us = 0;       // fixed cost of one product on all cores
    std::vector<CpuAttentionRate> cpu_attention;  // empty: not measured (KV bytes alone)
    double ssd_read_GBps = 0;            // 4 KiB random reads; 0: use the default
    std::vector<GpuHardware> gpus;       // empty: no GPU
    std::vector<std::string> notes;      // how each figure was obtained
};

struct Budgets {
    uint64_t vram_bytes = 0;             // for cuda:0
    uint64_t engram_dram_bytes = 0;      // resident Engram rows
    uint64_t expert_dram_bytes = UINT64_MAX;  // resident MoE experts (default: all)
    // At most this much of the VRAM left after the blocks caches hot Engram
    // rows of the GPU blocks' tables (default: all that is left).
    uint64_t engram_vram_bytes = UINT64_MAX;
    int64_t n_ctx = 4096;
    int64_t n_batch = 512;               // prefill batch, sizes the scratch
    int n_threads = 0;                   // CPU threads decoding; 0: Hardware::cpu_threads
    // Context a predicted decode token attends to; 0: half of n_ctx (a
    // conversation midway). engram-bench sets where its decode test runs.
    int64_t decode_kv_tokens = 0;
};

struct TierUsage {
    uint64_t capacity_bytes = 0;         // what the tier offers the plan
    uint64_t weights_bytes = 0, kv_bytes = 0, engram_bytes = 0, scratch_bytes = 0;
    uint64_t expert_bytes = 0;           // MoE experts (not counted in weights_bytes)
    uint64_t bytes() const { return weights_bytes + kv_bytes + engram_bytes + scratch_bytes + expert_bytes; }
};

// Where a MoE model's experts go: DRAM up to the budget, the rest read from
// the file on demand (model/expert_tier.h).
struct ExpertPlacement {
    uint64_t total_bytes = 0;            // the CPU blocks' experts
    uint64_t dram_bytes = 0, ssd_bytes = 0;
    // Share of expert uses DRAM serves: with routing taken as even over the
    // experts, the share of the experts it holds (a floor: real routing is
    // skewed and the cache keeps the busy ones).
    double dram_hit_rate = 1.0;
};

struct BlockPlacement {
    int64_t index = 0;
    std::string device;                  // "cpu" | "cuda:0"
};

struct DeviceKv {
    std::string device;
    int64_t n_blocks = 0;
    uint64_t kv_bytes = 0;
};

struct EngramTablePlacement {
    int64_t layer = 0;
    std::string tensor;
    std::string device;                  // where its block runs
    uint64_t rows = 0, row_bytes = 0, table_bytes = 0;
    uint64_t dram_rows = 0, dram_bytes = 0;   // resident under the DRAM budget
    uint64_t ssd_bytes = 0;                   // the rest, read on demand
    uint64_t vram_cache_rows = 0, vram_cache_bytes = 0;  // hot rows copied to VRAM (GPU blocks only)
    double vram_hit_rate = 0, dram_hit_rate = 0, ssd_read_rate = 0;  // shares of the rows read per token
};

struct Prediction {
    double decode_tokens_per_s = 0;
    int64_t kv_tokens = 0;               // context read by the predicted step (n_ctx / 2)
    // Bytes read per decoded token from each tier, and the seconds they take.
    uint64_t vram_bytes = 0, dram_bytes = 0, ssd_bytes = 0, pcie_bytes = 0;
    double vram_s = 0, dram_s = 0, ssd_s = 0, pcie_s = 0;
    // What the CPU's kernels add to its memory time (dram_s, at the speed
    // its caches or DRAM serve its share): matrices they multiply slower
    // than memory delivers them, and waking the threads for each product.
    double cpu_compute_s = 0;
    int64_t pcie_crossings = 0;
};

struct Placement {
    std::vector<BlockPlacement> blocks;  // one per block, in order
    int64_t n_gpu_blocks = 0;            // the last n_gpu_blocks blocks run on cuda:0
    std::string output_device = "cpu";
    bool output_copies_token_table = false;  // tied head uploaded to VRAM: a copy of token_embd
    // What the CPU's packed copies (quant/packed.h) add to the file's bytes
    // of what it runs: larger packed blocks, a packed copy of a tied head.
    uint64_t cpu_packed_extra_bytes = 0;
    std::vector<DeviceKv> kv;
    std::vector<EngramTablePlacement> engram;
    ExpertPlacement experts;
    TierUsage vram, dram, ssd;
    Prediction predicted;
    // Figures the plan used (defaults included), for the JSON.
    double dram_read_GBps = 0, ssd_read_GBps = 0, h2d_GBps = 0, vram_read_GBps = 0;
    std::string gpu_name;
    std::vector<std::string> problems;
    std::vector<std::string> notes;      // assumptions and defaults in words
};

// The placement of m on hw under b. Pure: same inputs, same plan.
Placement plan(const ModelInfo& m, const Hardware& hw, const Budgets& b);

// Share of row reads served by the `cached` most popular of `rows` rows when
// popularity is Zipf(kZipfExponent): H(cached) / H(rows).
double zipf_hit_rate(uint64_t cached, uint64_t rows);

nlohmann::json to_json(const Placement& p);
nlohmann::json to_json(const Hardware& hw);
nlohmann::json to_json(const ModelInfo& m);

}  // namespace eg
