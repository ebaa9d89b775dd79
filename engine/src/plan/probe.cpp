// Hardware probe (see probe.h): /proc/meminfo, a DRAM read-bandwidth pass,
// an optional SSD random-read pass, and cuda_probe() for the GPUs; the
// measured figures cached as JSON for a day.
#include "plan/probe.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "backend/gpu.h"
#include "core/fp16.h"
#include "core/log.h"
#include "core/thread_pool.h"
#include "cpu/matmul.h"
#include "cpu/ops.h"
#include "quant/kernels.h"
#include "quant/packed.h"

namespace eg {

namespace {

using Clock = std::chrono::steady_clock;
constexpr int64_t kCacheMaxAgeS = 24 * 3600;
// 2: CPU kernel rates, 1-thread DRAM, LLC; 3: LLC reads; 4: streaming kernel rates; 5: attention rates;
// 6: the i-quants' and ternary types' kernel rates
constexpr int kCacheVersion = 6;

int64_t unix_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string trim(const std::string& s) {
    size_t a = 0, b = s.size();
    while (a < b && std::isspace((unsigned char)s[a])) ++a;
    while (b > a && std::isspace((unsigned char)s[b - 1])) --b;
    return s.substr(a, b - a);
}

// Fields of the cache read defensively: a wrong type reads as "not there".
double num_or_0(const nlohmann::json& j, const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_number() && std::isfinite(it->get<double>()) && it->get<double>() > 0
               ? it->get<double>()
               : 0.0;
}
uint64_t u64_or_0(const nlohmann::json& j, const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_number_unsigned() ? it->get<uint64_t>() : 0;
}

std::vector<GpuHardware> gpus_from_cuda(bool measure, std::string* why) {
    std::vector<GpuHardware> out;
    for (const GpuInfo& g : cuda_probe(measure, why)) {
        GpuHardware h;
        h.name = g.name;
        h.vram_total_bytes = g.vram_total;
        h.vram_free_bytes = g.vram_free;
        h.h2d_GBps = g.h2d_GBps;
        h.vram_read_GBps = g.vram_read_GBps;
        h.cc_major = g.cc_major;
        h.cc_minor = g.cc_minor;
        out.push_back(std::move(h));
    }
    return out;
}

// The cached figures, or nothing when absent, stale, unreadable or from
// another format (a bad cache is measured again, never trusted).
std::optional<nlohmann::json> read_cache(const std::string& path) {
    if (path.empty()) return std::nullopt;
    std::ifstream in(path);
    if (!in) return std::nullopt;
    nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
        EG_LOG_WARN("{}: not valid JSON; measuring the hardware again", path);
        return std::nullopt;
    }
    if (!j.contains("version") || !j["version"].is_number_integer() || j["version"].get<int64_t>() != kCacheVersion || !j.contains("probed_at") || !j["probed_at"].is_number_integer() ||
        !j.contains("dram_read_GBps") || !j["dram_read_GBps"].is_number() || !j.contains("gpus") ||
        !j["gpus"].is_array()) {
        EG_LOG_WARN("{}: not a hardware cache of this version; measuring again", path);
        return std::nullopt;
    }
    const int64_t age = unix_now() - j["probed_at"].get<int64_t>();
    if (age < 0 || age > kCacheMaxAgeS) return std::nullopt;
    return j;
}

void write_cache(const std::string& path, const nlohmann::json& j) {
    if (path.empty()) return;
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
    const std::string tmp = path + ".tmp";
    {
        std::ofstream out(tmp, std::ios::trunc);
        out << j.dump(2) << "\n";
        if (!out) {
            EG_LOG_WARN("{}: cannot write the hardware cache", tmp);
            return;
        }
    }
    std::filesystem::rename(tmp, path, ec);
    if (ec) EG_LOG_WARN("{}: cannot write the hardware cache: {}", path, ec.message());
}

}  // namespace

std::string hardware_cache_path() {
    if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return std::string(x) + "/engram-desktop/hardware.json";
    if (const char* h = std::getenv("HOME"); h && *h) return std::string(h) + "/.cache/engram-desktop/hardware.json";
    return {};
}

bool read_meminfo(uint64_t* total_bytes, uint64_t* available_bytes, const std::string& path) {
    std::ifstream in(path);
    if (!in) return false;
    std::string line;
    bool have_total = false, have_avail = false;
    while (std::getline(in, line)) {
        std::istringstream ls(line);
        std::string key;
        uint64_t kb = 0;
        if (!(ls >> key >> kb)) continue;
        if (key == "MemTotal:") *total_bytes = kb * 1024, have_total = true;
        else if (key == "MemAvailable:") *available_bytes = kb * 1024, have_avail = true;
    }
    return have_total && have_avail;
}

uint64_t read_llc_bytes() {
    uint64_t best = 0;
    for (int i = 0; i < 8; ++i) {
        std::ifstream in("/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(i) + "/size");
        std::string v;
        if (!(in >> v) || v.empty()) continue;
        uint64_t x = std::strtoull(v.c_str(), nullptr, 10);
        const char u = v.back();
        if (u == 'K') x <<= 10;
        else if (u == 'M') x <<= 20;
        else if (u == 'G') x <<= 30;
        best = std::max(best, x);
    }
    return best;
}

namespace {
// Best of `passes` reads of a buffer of `bytes` split over `threads`
// threads, in GB/s: 8 independent sums per thread, so that the loop keeps
// as many loads in flight as the decode kernels do (4 measured 30% less).
double measure_read_GBps(size_t bytes, unsigned n_threads, int passes) {
    const size_t n = bytes / sizeof(uint64_t);
    // In 2 MiB pages where the kernel gives them on request, as the packed
    // weights the decode kernels stream are (quant/packed.cpp).
    constexpr size_t kHuge = 2u << 20;
    std::unique_ptr<uint64_t, decltype(&std::free)> buf(
        (uint64_t*)std::aligned_alloc(kHuge, (bytes + kHuge - 1) / kHuge * kHuge), &std::free);
    if (!buf || n_threads == 0) return 0;
    ::madvise(buf.get(), (bytes + kHuge - 1) / kHuge * kHuge, MADV_HUGEPAGE);
    const size_t per = n / n_threads;
    auto run = [&](auto&& body) {
        std::vector<std::thread> ts;
        for (unsigned t = 0; t < n_threads; ++t)
            ts.emplace_back([&, t] { body(t * per, t + 1 == n_threads ? n : (t + 1) * per); });
        for (auto& t : ts) t.join();
    };
    // Touch every page first (each thread its own slice, as it will read it).
    run([&](size_t a, size_t b) {
        for (size_t i = a; i < b; ++i) buf.get()[i] = i;
    });
    std::atomic<uint64_t> sink{0};
    double best_s = 1e9;
    for (int pass = 0; pass < passes; ++pass) {
        const auto t0 = Clock::now();
        run([&](size_t a, size_t b) {
            uint64_t s[8] = {};
            size_t i = a;
            for (; i + 8 <= b; i += 8)
                for (int k = 0; k < 8; ++k) s[k] += buf.get()[i + k];
            for (; i < b; ++i) s[0] += buf.get()[i];
            uint64_t t = 0;
            for (uint64_t x : s) t += x;
            sink += t;
        });
        best_s = std::min(best_s, std::chrono::duration<double>(Clock::now() - t0).count());
    }
    if (sink.load() == 42) EG_LOG_DEBUG("read probe sum {}", sink.load());  // keeps the sums alive
    return best_s > 0 ? (double)bytes / best_s / 1e9 : 0;
}

unsigned probe_threads(int threads) {
    return threads > 0 ? (unsigned)threads : std::clamp(std::thread::hardware_concurrency(), 1u, 64u);
}
}  // namespace

double measure_dram_read_GBps(int threads, uint64_t llc_bytes) {
    // Larger than the last-level cache, or it measures the cache.
    const size_t bytes = std::max<size_t>(256ull << 20, std::min<uint64_t>(2 * llc_bytes, 4ull << 30));
    return measure_read_GBps(bytes, probe_threads(threads), 6);  // best of 6: a shared machine's bandwidth varies
}

double measure_llc_read_GBps(int threads, uint64_t llc_bytes) {
    if (llc_bytes < (4u << 20)) return 0;
    return measure_read_GBps(std::min<uint64_t>(llc_bytes / 2, 256ull << 20), probe_threads(threads), 10);
}

void measure_cpu_matvec(int threads, Hardware& hw) {
    hw.cpu_matvec.clear();
    hw.cpu_threads = std::max(1, threads);
    ThreadPool one(1), all(hw.cpu_threads);
    const int64_t k = 2048, n = 512;  // 0.6-1.1 MB of weights: in the caches
    std::vector<float> x((size_t)k), y((size_t)n);
    std::mt19937 rng(7);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    for (float& v : x) v = nd(rng);
    MatmulScratch scratch;
    scratch.reserve(16 * (size_t)k);
    // Median seconds per product over ~15 ms.
    auto time_per_call = [&](const WeightView& w, ThreadPool& pool) {
        for (int i = 0; i < 3; ++i) matmul(w, x.data(), 1, y.data(), pool, scratch);
        std::vector<double> ts;
        const auto end = Clock::now() + std::chrono::milliseconds(15);
        while (Clock::now() < end || ts.size() < 5) {
            const auto t0 = Clock::now();
            matmul(w, x.data(), 1, y.data(), pool, scratch);
            ts.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
        }
        std::nth_element(ts.begin(), ts.begin() + (long)ts.size() / 2, ts.end());
        return ts[ts.size() / 2];
    };
    // A matrix of type t whose rows are one quantized random row (the values
    // do not change the speed), packed where the CPU packs it. Types with no
    // quantizer here (the grid i-quants, the ternary types) keep zero bytes:
    // a valid block (d = 0, index 0) that runs the same kernel.
    struct Mat {
        std::vector<uint8_t> bytes;
        WeightView w;
        std::unique_ptr<PackedMatrix> packed;
    };
    auto make = [&](GgmlType t, int64_t kk, int64_t nn, Mat& m) {
        const TypeKernels* kt = kernels_for(t);
        const int64_t rb = row_bytes(t, kk);
        if (!kt || rb <= 0) return false;
        m.bytes.assign((size_t)(rb * nn), 0);
        if (kt->quantize) {
            std::vector<float> row((size_t)kk);
            for (float& v : row) v = nd(rng) * 0.02f;
            kt->quantize(row.data(), m.bytes.data(), kk);
        }
        for (int64_t r = 1; r < nn; ++r) std::memcpy(m.bytes.data() + r * rb, m.bytes.data(), (size_t)rb);
        m.w = WeightView{t, kk, nn, m.bytes.data(), rb};
        m.packed = pack_weights(m.w, &all);
        m.w.packed = m.packed.get();
        return true;
    };
    // The same kernels streaming a matrix twice the last-level cache (at
    // least 256 MiB): what decode gets from DRAM, its own work included.
    const uint64_t stream_bytes = std::max<uint64_t>(256ull << 20, std::min<uint64_t>(2 * hw.llc_bytes, 2ull << 30));
    PackedMatrix big;
    constexpr size_t kHuge = 2u << 20;
    big.data = (uint8_t*)std::aligned_alloc(kHuge, (stream_bytes + kHuge - 1) / kHuge * kHuge);
    if (big.data) ::madvise(big.data, (stream_bytes + kHuge - 1) / kHuge * kHuge, MADV_HUGEPAGE);
    std::vector<float> ybig;
    auto measure_stream = [&](const PackedMatrix& small, CpuKernelRate& r) {
        if (!big.data || small.panel_bytes <= 0) return;
        big.type = small.type;
        big.k = small.k;
        big.panel_bytes = small.panel_bytes;
        big.n_panels = (int64_t)(stream_bytes / (uint64_t)small.panel_bytes);
        big.n = big.n_panels * PackedMatrix::kPanel;
        for (int64_t p = 0; p < big.n_panels; ++p)
            std::memcpy(big.data + p * big.panel_bytes, small.panel(p % small.n_panels), (size_t)big.panel_bytes);
        ybig.resize((size_t)big.n);
        WeightView w{big.type, big.k, big.n, nullptr, row_bytes(big.type, big.k), &big};
        auto pass = [&](ThreadPool& pool) {
            const auto t0 = Clock::now();
            matmul(w, x.data(), 1, ybig.data(), pool, scratch);
            return std::chrono::duration<double>(Clock::now() - t0).count();
        };
        const double bytes = (double)big.bytes();
        r.stream_GBps_all = bytes / std::min(pass(all), pass(all)) / 1e9;
        r.stream_GBps_1t = bytes / pass(one) / 1e9;
    };

    Mat tiny;
    // Next to nothing to compute, but split across the threads like any product.
    if (make(GgmlType::Q8_0, 64, 4 * 16 * hw.cpu_threads, tiny)) hw.cpu_matvec_call_us = time_per_call(tiny.w, all) * 1e6;
    for (GgmlType t : {GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q8_0, GgmlType::Q2_K,
                       GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::F16,
                       GgmlType::IQ4_NL, GgmlType::IQ4_XS, GgmlType::IQ3_S, GgmlType::IQ3_XXS, GgmlType::IQ2_S,
                       GgmlType::IQ2_XS, GgmlType::IQ2_XXS, GgmlType::IQ1_M, GgmlType::IQ1_S, GgmlType::TQ2_0,
                       GgmlType::TQ1_0}) {
        Mat m;
        if (!make(t, k, n, m)) continue;
        const double bytes = m.packed ? (double)m.packed->bytes() : (double)(m.w.row_bytes * n);
        CpuKernelRate r;
        r.type = (uint32_t)t;
        r.GBps_1t = bytes / time_per_call(m.w, one) / 1e9;
        const double t_all = time_per_call(m.w, all) - hw.cpu_matvec_call_us * 1e-6;
        r.GBps_all = t_all > 0 ? bytes / t_all / 1e9 : r.GBps_1t;
        if (m.packed) measure_stream(*m.packed, r);
        hw.cpu_matvec.push_back(r);
    }
}

void measure_cpu_attention(int threads, Hardware& hw) {
    hw.cpu_attention.clear();
    const int n_all = std::max(1, threads);
    ThreadPool one(1), all(n_all);
    const int64_t n_head = 8, n_head_kv = 2;
    std::mt19937 rng(9);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    for (int64_t hd : {64, 128}) {
        // In cache: 1024 positions of one layer, timed call by call.
        // Streaming: 4096 positions in each of enough layers that their KV is
        // twice the last-level cache (at least 64 MiB), timed pass by pass.
        const int64_t n_cache = 1024, n_long = 4096;
        const uint64_t layer_bytes = (uint64_t)(2 * n_long * n_head_kv * hd) * sizeof(uint16_t);
        const int64_t n_layers =
            (int64_t)std::max<uint64_t>(1, (std::max<uint64_t>(64ull << 20, 2 * hw.llc_bytes) + layer_bytes - 1) / layer_bytes);
        std::vector<float> q((size_t)(n_head * hd)), out(q.size());
        for (float& v : q) v = nd(rng);
        // One K or V of every layer, each [n_long, n_head_kv * hd]; random
        // values (the speed does not depend on them) from a short pattern.
        const size_t per = (size_t)(n_long * n_head_kv * hd);
        std::vector<uint16_t> pattern(4096);
        for (uint16_t& v : pattern) v = fp32_to_fp16(nd(rng));
        std::vector<uint16_t> kv((size_t)n_layers * 2 * per);
        for (size_t i = 0; i < kv.size(); ++i) kv[i] = pattern[(i * 7 + i / 4096) % pattern.size()];
        const int64_t stride = attention_scores_stride(n_long);
        std::vector<float> scores((size_t)(n_all * stride));
        auto args = [&](int64_t layer, int64_t n_ctx) {
            return AttentionArgs{q.data(), kv.data() + (size_t)layer * 2 * per, kv.data() + (size_t)layer * 2 * per + per,
                                 out.data(), scores.data(), 1, n_ctx - 1, n_head, n_head_kv, hd, n_ctx, stride};
        };
        auto per_call = [&](ThreadPool& pool) {
            const AttentionArgs a = args(0, n_cache);
            for (int i = 0; i < 3; ++i) attention(a, pool);
            std::vector<double> ts;
            const auto end = Clock::now() + std::chrono::milliseconds(15);
            while (Clock::now() < end || ts.size() < 5) {
                const auto t0 = Clock::now();
                attention(a, pool);
                ts.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
            }
            std::nth_element(ts.begin(), ts.begin() + (long)ts.size() / 2, ts.end());
            return ts[ts.size() / 2];
        };
        auto per_pass = [&](ThreadPool& pool) {
            double best = 1e30;
            for (int rep = 0; rep < 3; ++rep) {
                const auto t0 = Clock::now();
                for (int64_t l = 0; l < n_layers; ++l) attention(args(l, n_long), pool);
                best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count());
            }
            return best;
        };
        const double macs = 2.0 * (double)(n_head * n_cache * hd);
        CpuAttentionRate r;
        r.head_dim = hd;
        r.GMACs_1t = macs / per_call(one) / 1e9;
        r.GMACs_all = n_all > 1 ? macs / per_call(all) / 1e9 : r.GMACs_1t;
        const double bytes = (double)layer_bytes * (double)n_layers;
        r.stream_GBps_1t = bytes / per_pass(one) / 1e9;
        r.stream_GBps_all = n_all > 1 ? bytes / per_pass(all) / 1e9 : r.stream_GBps_1t;
        hw.cpu_attention.push_back(r);
    }
}

Result<double> measure_ssd_read_GBps(const std::string& path, double seconds) {
    constexpr size_t kUnit = 4096;
    const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECT | O_CLOEXEC);
    if (fd < 0) return Error{path + ": cannot open for the SSD measurement: " + std::strerror(errno)};
    const off_t size = ::lseek(fd, 0, SEEK_END);
    if (size < (off_t)(kUnit * 256)) {
        ::close(fd);
        return Error{path + ": too small (" + std::to_string((long long)size) + " bytes) to measure random reads"};
    }
    const uint64_t n_units = (uint64_t)size / kUnit;
    constexpr int kThreads = 8;  // the store reads with several I/O threads too
    std::atomic<uint64_t> reads{0};
    std::atomic<bool> refused{false};
    const auto t0 = Clock::now();
    const auto deadline = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
    std::vector<std::thread> ts;
    for (int t = 0; t < kThreads; ++t)
        ts.emplace_back([&, t] {
            void* mem = nullptr;
            if (::posix_memalign(&mem, kUnit, kUnit) != 0) return;
            std::mt19937_64 rng(0x55D + (uint64_t)t);
            uint64_t mine = 0;
            while (Clock::now() < deadline && !refused) {
                const off_t off = (off_t)((rng() % n_units) * kUnit);
                const ssize_t r = ::pread(fd, mem, kUnit, off);
                if (r < 0 && errno == EINVAL) refused = true;
                if (r == (ssize_t)kUnit) ++mine;
            }
            reads += mine;
            std::free(mem);
        });
    for (auto& t : ts) t.join();
    ::close(fd);
    if (refused) return Error{path + ": the file system refuses O_DIRECT, so random reads cannot be measured there"};
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    if (reads == 0 || secs <= 0) return Error{path + ": no read succeeded during the SSD measurement"};
    return (double)reads.load() * kUnit / secs / 1e9;
}

Hardware probe_hardware(const ProbeOptions& opt) {
    Hardware hw;
    const std::string cache = opt.cache_path.empty() ? hardware_cache_path() : opt.cache_path;
    if (!read_meminfo(&hw.dram_total_bytes, &hw.dram_free_bytes))
        hw.notes.push_back("/proc/meminfo unreadable: DRAM size unknown");

    const std::optional<nlohmann::json> fresh = read_cache(cache);
    const std::optional<nlohmann::json> cached = opt.refresh ? std::nullopt : fresh;
    std::string why_no_gpu;
    nlohmann::json j;
    if (cached) {
        j = *cached;
        hw.dram_read_GBps = num_or_0(j, "dram_read_GBps");
        hw.dram_read_1t_GBps = num_or_0(j, "dram_read_1t_GBps");
        hw.llc_read_GBps = num_or_0(j, "llc_read_GBps");
        hw.llc_read_1t_GBps = num_or_0(j, "llc_read_1t_GBps");
        hw.ssd_read_GBps = num_or_0(j, "ssd_read_GBps");
        hw.cpu_threads = (int)num_or_0(j, "cpu_threads");
        hw.llc_bytes = u64_or_0(j, "llc_bytes");
        hw.cpu_matvec_call_us = num_or_0(j, "cpu_matvec_call_us");
        if (j.contains("cpu_matvec") && j["cpu_matvec"].is_array())
            for (const auto& r : j["cpu_matvec"]) {
                if (!r.is_object()) continue;
                CpuKernelRate k;
                k.type = (uint32_t)num_or_0(r, "type");
                k.GBps_1t = num_or_0(r, "GBps_1t");
                k.GBps_all = num_or_0(r, "GBps_all");
                k.stream_GBps_1t = num_or_0(r, "stream_GBps_1t");
                k.stream_GBps_all = num_or_0(r, "stream_GBps_all");
                if (k.GBps_all > 0) hw.cpu_matvec.push_back(k);
            }
        if (j.contains("cpu_attention") && j["cpu_attention"].is_array())
            for (const auto& r : j["cpu_attention"]) {
                if (!r.is_object()) continue;
                CpuAttentionRate a;
                a.head_dim = (int64_t)num_or_0(r, "head_dim");
                a.GMACs_1t = num_or_0(r, "GMACs_1t");
                a.GMACs_all = num_or_0(r, "GMACs_all");
                a.stream_GBps_1t = num_or_0(r, "stream_GBps_1t");
                a.stream_GBps_all = num_or_0(r, "stream_GBps_all");
                if (a.head_dim > 0 && a.GMACs_all > 0) hw.cpu_attention.push_back(a);
            }
        for (const auto& g : j["gpus"]) {
            if (!g.is_object()) continue;
            GpuHardware h;
            h.name = g.contains("name") && g["name"].is_string() ? g["name"].get<std::string>() : "GPU";
            h.vram_total_bytes = u64_or_0(g, "vram_total_bytes");
            h.vram_free_bytes = u64_or_0(g, "vram_free_bytes");
            h.h2d_GBps = num_or_0(g, "h2d_GBps");
            h.vram_read_GBps = num_or_0(g, "vram_read_GBps");
            hw.gpus.push_back(std::move(h));
        }
        // Free VRAM changes with every other program: ask the driver again
        // (cheap), keep the cached bandwidths.
        std::vector<GpuHardware> now = gpus_from_cuda(false, &why_no_gpu);
        if (now.size() != hw.gpus.size()) {
            // A GPU came or went since the cache: its bandwidths are unknown
            // until --refresh-hardware (the planner then uses defaults).
            hw.gpus = std::move(now);
        } else {
            for (size_t i = 0; i < now.size(); ++i)
                if (now[i].name == hw.gpus[i].name) {
                    hw.gpus[i].vram_free_bytes = now[i].vram_free_bytes;
                    hw.gpus[i].vram_total_bytes = now[i].vram_total_bytes;
                    hw.gpus[i].cc_major = now[i].cc_major;
                    hw.gpus[i].cc_minor = now[i].cc_minor;
                } else {
                    hw.gpus[i] = now[i];  // another GPU in this slot: its bandwidths are unknown
                }
        }
        hw.notes.push_back("bandwidths from " + cache + " (measured " +
                           std::to_string((unix_now() - j["probed_at"].get<int64_t>()) / 60) +
                           " min ago; --refresh-hardware measures again)");
    } else {
        const auto t0 = Clock::now();
        const int cores = physical_core_count();
        hw.llc_bytes = read_llc_bytes();
        hw.dram_read_GBps = measure_dram_read_GBps(cores, hw.llc_bytes);
        hw.dram_read_1t_GBps = measure_dram_read_GBps(1, hw.llc_bytes);
        hw.llc_read_GBps = measure_llc_read_GBps(cores, hw.llc_bytes);
        hw.llc_read_1t_GBps = measure_llc_read_GBps(1, hw.llc_bytes);
        measure_cpu_matvec(cores, hw);
        measure_cpu_attention(cores, hw);
        hw.gpus = gpus_from_cuda(true, &why_no_gpu);
        EG_LOG_INFO("hardware probe: DRAM {:.1f} GB/s ({:.1f} on one thread), CPU kernels on {} cores, {} GPU(s), "
                    "{:.0f} ms",
                    hw.dram_read_GBps, hw.dram_read_1t_GBps, cores, hw.gpus.size(),
                    std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        hw.notes.push_back("DRAM read bandwidth measured now (best of 6 passes over " +
                           std::to_string(std::max<uint64_t>(256, std::min<uint64_t>(2 * hw.llc_bytes, 4ull << 30) >> 20)) +
                           " MiB on " + std::to_string(cores) + " threads and on 1); CPU kernel rates measured now");
        // An SSD figure measured earlier stays valid for the day.
        if (fresh) hw.ssd_read_GBps = num_or_0(*fresh, "ssd_read_GBps");
        j = nlohmann::json::object();
        j["version"] = kCacheVersion;
    }
    if (hw.gpus.empty()) hw.notes.push_back("no GPU: " + (why_no_gpu.empty() ? std::string("none found") : why_no_gpu));
    if (const GpuPluginStatus& gp = gpu_plugin(); gp.loaded)
        hw.notes.push_back("GPU plugin " + gp.path + ": " + gp.describe);

    bool changed = !cached;
    if (!opt.ssd_probe_file.empty()) {
        auto r = measure_ssd_read_GBps(opt.ssd_probe_file);
        if (r) {
            hw.ssd_read_GBps = r.value();
            changed = true;
            hw.notes.push_back("SSD 4 KiB random reads measured now on " + opt.ssd_probe_file);
        } else {
            EG_LOG_WARN("{}", r.message());
            hw.notes.push_back("SSD not measured: " + r.message());
        }
    }
    if (!(hw.ssd_read_GBps > 0))
    {
        char buf[160];
        std::snprintf(buf, sizeof buf,
                      "SSD random-read rate not measured (--measure-ssd measures it): the planner assumes %.1f GB/s",
                      kDefaultSsdReadGBps);
        hw.notes.emplace_back(buf);
    }

    if (changed) {
        j["version"] = kCacheVersion;
        j["probed_at"] = cached ? j["probed_at"].get<int64_t>() : unix_now();
        j["dram_read_GBps"] = hw.dram_read_GBps;
        j["dram_read_1t_GBps"] = hw.dram_read_1t_GBps;
        j["llc_read_GBps"] = hw.llc_read_GBps;
        j["llc_read_1t_GBps"] = hw.llc_read_1t_GBps;
        j["ssd_read_GBps"] = hw.ssd_read_GBps;
        j["cpu_threads"] = hw.cpu_threads;
        j["llc_bytes"] = hw.llc_bytes;
        j["cpu_matvec_call_us"] = hw.cpu_matvec_call_us;
        j["cpu_matvec"] = nlohmann::json::array();
        for (const auto& r : hw.cpu_matvec)
            j["cpu_matvec"].push_back({{"type", r.type},
                                       {"GBps_1t", r.GBps_1t},
                                       {"GBps_all", r.GBps_all},
                                       {"stream_GBps_1t", r.stream_GBps_1t},
                                       {"stream_GBps_all", r.stream_GBps_all}});
        j["cpu_attention"] = nlohmann::json::array();
        for (const auto& r : hw.cpu_attention)
            j["cpu_attention"].push_back({{"head_dim", r.head_dim},
                                          {"GMACs_1t", r.GMACs_1t},
                                          {"GMACs_all", r.GMACs_all},
                                          {"stream_GBps_1t", r.stream_GBps_1t},
                                          {"stream_GBps_all", r.stream_GBps_all}});
        j["gpus"] = nlohmann::json::array();
        for (const auto& g : hw.gpus)
            j["gpus"].push_back({{"name", g.name},
                                 {"vram_total_bytes", g.vram_total_bytes},
                                 {"vram_free_bytes", g.vram_free_bytes},
                                 {"h2d_GBps", g.h2d_GBps},
                                 {"vram_read_GBps", g.vram_read_GBps}});
        write_cache(cache, j);
    }
    return hw;
}

uint64_t ByteBudget::resolve(uint64_t whole) const {
    if (bytes) return *bytes;
    const double f = std::clamp(fraction.value_or(1.0), 0.0, 1.0);
    return (uint64_t)std::llround(f * (double)whole);
}

std::string ByteBudget::to_string() const {
    if (bytes) return std::to_string(*bytes);
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6g%%", std::clamp(fraction.value_or(1.0), 0.0, 1.0) * 100.0);
    return buf;
}

Result<ByteBudget> parse_byte_budget(const std::string& text, const std::string& what) {
    const std::string s = trim(text);
    auto bad = [&] {
        return Error{what + " '" + text + "' is neither a byte count (e.g. 8G, 512M, 1000000) nor a percentage (e.g. 25%)"};
    };
    if (s.empty()) return bad();
    char* end = nullptr;
    const double v = std::strtod(s.c_str(), &end);
    if (end == s.c_str() || !std::isfinite(v) || v < 0) return bad();
    std::string unit = trim(std::string(end));
    if (unit == "%") {
        if (v > 100) return Error{what + " '" + text + "' is more than 100%"};
        return ByteBudget{std::nullopt, v / 100.0};
    }
    std::transform(unit.begin(), unit.end(), unit.begin(), [](unsigned char c) { return (char)std::toupper(c); });
    if (unit.size() > 1 && unit.back() == 'B') unit.pop_back();
    if (unit.size() > 1 && unit.back() == 'I') unit.pop_back();
    double mul = 1;
    if (unit.empty() || unit == "B") mul = 1;
    else if (unit == "K") mul = 1024.0;
    else if (unit == "M") mul = 1024.0 * 1024;
    else if (unit == "G") mul = 1024.0 * 1024 * 1024;
    else if (unit == "T") mul = 1024.0 * 1024 * 1024 * 1024;
    else return bad();
    const double b = v * mul;
    if (b > 1.8e19) return bad();
    return ByteBudget{(uint64_t)b, std::nullopt};
}

Result<GpuHardware> parse_assumed_gpu(const std::string& text) {
    std::vector<std::string> parts;
    std::string cur;
    for (char c : text) {
        if (c == ',') parts.push_back(trim(cur)), cur.clear();
        else cur += c;
    }
    parts.push_back(trim(cur));
    auto bad = [&](const std::string& why) {
        return Error{"--assume-gpu '" + text + "': " + why + " (expected VRAM[,H2D_GBps[,VRAM_GBps]], e.g. 24G,25)"};
    };
    if (parts.size() > 3) return bad("too many fields");
    auto vram = parse_byte_budget(parts[0], "assumed VRAM");
    if (!vram) return bad(vram.message());
    if (!vram->bytes || *vram->bytes == 0) return bad("the VRAM must be a byte count above 0");
    GpuHardware g;
    g.name = "assumed";
    g.assumed = true;
    g.vram_total_bytes = g.vram_free_bytes = *vram->bytes;
    g.h2d_GBps = kDefaultH2dGBps;
    g.vram_read_GBps = kDefaultVramReadGBps;
    auto number = [&](const std::string& s, double* out) -> bool {
        char* end = nullptr;
        const double v = std::strtod(s.c_str(), &end);
        if (end == s.c_str() || *end != '\0' || !std::isfinite(v) || v <= 0 || v > 1e6) return false;
        *out = v;
        return true;
    };
    if (parts.size() > 1 && !number(parts[1], &g.h2d_GBps)) return bad("'" + parts[1] + "' is not a bandwidth in GB/s");
    if (parts.size() > 2 && !number(parts[2], &g.vram_read_GBps))
        return bad("'" + parts[2] + "' is not a bandwidth in GB/s");
    return g;
}

}  // namespace eg
