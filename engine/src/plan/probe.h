// The hardware the planner plans for: DRAM size and free memory
// (/proc/meminfo), measured DRAM read bandwidth, the CPU's kernel rates, the
// SSD's 4 KiB random-read rate (measured only when asked), and the GPUs the
// CUDA backend finds.
// Measured figures are cached in $XDG_CACHE_HOME/engram-desktop/hardware.json
// (~/.cache/... without it) for a day; free memory is read fresh every time.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/result.h"
#include "plan/planner.h"

namespace eg {

struct ProbeOptions {
    bool refresh = false;          // measure again even if the cache is fresh
    std::string ssd_probe_file;    // non-empty: measure 4 KiB random reads on this file (O_DIRECT)
    std::string cache_path;        // empty: hardware_cache_path()
};

// The machine, from the cache when it is less than a day old (and
// !refresh), else measured (about a second: DRAM, the caches, the CPU
// kernels in cache and streaming) and cached.
Hardware probe_hardware(const ProbeOptions& opt);
inline Hardware probe_hardware(bool refresh) {
    ProbeOptions o;
    o.refresh = refresh;
    return probe_hardware(o);
}

// $XDG_CACHE_HOME/engram-desktop/hardware.json, or ~/.cache/...; empty
// when neither variable is set.
std::string hardware_cache_path();

// Best of 3 passes summing a buffer of 256 MiB or twice the last-level
// cache, whichever is larger, on `threads` threads (0: every hardware
// thread), in GB/s.
double measure_dram_read_GBps(int threads = 0, uint64_t llc_bytes = 0);

// The same over half the last-level cache (at most 256 MiB), best of 10:
// what a model that the cache holds is read at. 0 when the cache is unknown
// or smaller than 4 MiB.
double measure_llc_read_GBps(int threads, uint64_t llc_bytes);

// The last-level cache of CPU 0 (sysfs), 0 when unknown.
uint64_t read_llc_bytes();

// The CPU's matrix-vector rates per weight type (Hardware::cpu_matvec) on 1
// and `threads` threads, and the fixed cost of a product on `threads`:
// each type timed for ~15 ms on a matrix its caches hold, as the decode
// kernels run it (packed where the CPU packs).
void measure_cpu_matvec(int threads, Hardware& hw);
// The CPU's decode attention rates (Hardware::cpu_attention), head sizes 64
// and 128, 8 query heads on 2 KV heads: in cache (1024 positions) and
// streaming a KV of twice the last-level cache (4096 positions per layer),
// on 1 thread and on `threads`.
void measure_cpu_attention(int threads, Hardware& hw);

// 4 KiB random reads with O_DIRECT over `path` for about `seconds` from 8
// threads, in GB/s. An error (with the reason) where the file system refuses
// O_DIRECT or the file is too small.
Result<double> measure_ssd_read_GBps(const std::string& path, double seconds = 0.3);

// MemTotal and MemAvailable of /proc/meminfo (or a file in its form), in
// bytes; false when unreadable or either is missing. The one reader of it.
bool read_meminfo(uint64_t* total_bytes, uint64_t* available_bytes, const std::string& path = "/proc/meminfo");

// "24G" or "24G,25" or "24G,25,1000": an assumed GPU named "assumed" with
// that much free VRAM, host-to-device GB/s (default kDefaultH2dGBps) and
// VRAM read GB/s (default kDefaultVramReadGBps).
Result<GpuHardware> parse_assumed_gpu(const std::string& text);

// A budget: bytes ("8G", "512M", "1.5GiB", "1000000") or a share ("25%").
// Parsed once where the user types it (a command-line flag, a text field);
// resolved against the whole it is a share of when the planner runs.
struct ByteBudget {
    std::optional<uint64_t> bytes;
    std::optional<double> fraction;  // 0..1
    uint64_t resolve(uint64_t whole) const;
    // "25%" or a byte count ("1073741824"): what parse_byte_budget reads back.
    std::string to_string() const;
    bool operator==(const ByteBudget&) const = default;

    static ByteBudget exactly(uint64_t n) { return {n, std::nullopt}; }
    static ByteBudget all() { return {std::nullopt, 1.0}; }
};
// what: "VRAM budget", ... for the error sentence.
Result<ByteBudget> parse_byte_budget(const std::string& text, const std::string& what);

}  // namespace eg
