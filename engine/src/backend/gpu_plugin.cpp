// The GPU plugin loader (backend/gpu.h, backend/gpu_plugin.h): finds
// libengram-cuda.so (or what ENGRAM_GPU_PLUGIN names), loads it once, checks
// its ABI before calling anything in it, and forwards the engine's GPU calls
// to it. Every way of not having a GPU ends in one sentence: no plugin
// installed, a plugin that does not load (a missing CUDA library), a file
// that is not a plugin, a plugin of another version, or the plugin's own
// refusal (no driver, a driver too old, no device).
#include "backend/gpu_plugin.h"

#include <dlfcn.h>
#include <unistd.h>

#include <array>
#include <filesystem>
#include <mutex>

#include "core/log.h"

namespace eg {

namespace {

constexpr const char* kPluginFile = "libengram-cuda.so";

struct Loaded {
    GpuPluginStatus status;
    GpuPlugin* plugin = nullptr;
};

std::string program_dir() {
    std::array<char, 4096> buf{};
    const ssize_t n = ::readlink("/proc/self/exe", buf.data(), buf.size() - 1);
    if (n <= 0) return {};
    return std::filesystem::path(std::string(buf.data(), (size_t)n)).parent_path().string();
}

// dlerror()'s text made into advice where the cause is a known one.
std::string load_error(const std::string& path, const std::string& dl) {
    std::string s = "the GPU plugin " + path + " does not load: " + dl;
    if (dl.find("libcublas") != std::string::npos)
        s += " (it needs NVIDIA's cuBLAS of its CUDA version, see the README's GPU section)";
    return s;
}

Loaded load_plugin() {
    Loaded out;
    GpuPluginStatus& st = out.status;
    const std::vector<std::string> candidates = gpu_plugin_candidates();
    if (candidates.empty()) {
        st.why_not = "the GPU plugin is turned off (ENGRAM_GPU_PLUGIN=none)";
        return out;
    }
    std::string path;
    for (const std::string& c : candidates) {
        std::error_code ec;
        if (std::filesystem::is_regular_file(c, ec)) {
            // A path with a slash: dlopen must not search the library path for it.
            path = std::filesystem::absolute(c, ec).lexically_normal().string();
            break;
        }
    }
    if (path.empty()) {
        st.path = candidates.front();
        st.why_not = std::getenv("ENGRAM_GPU_PLUGIN")
                         ? "no GPU plugin at " + candidates.front() + " (ENGRAM_GPU_PLUGIN)"
                         : "no GPU plugin is installed (looked for " + candidates.front() +
                               "; the engram-desktop-cuda package provides it)";
        return out;
    }
    st.path = path;
    // RTLD_LOCAL: the plugin's copy of the engine stays its own.
    void* h = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char* e = ::dlerror();
        st.why_not = load_error(path, e ? e : "unknown error");
        return out;
    }
    const auto* abi = static_cast<const char*>(::dlsym(h, kGpuPluginAbiSymbol));
    if (!abi) {
        st.why_not = path + " is not an Engram Desktop GPU plugin (it has no " + kGpuPluginAbiSymbol + ")";
        ::dlclose(h);
        return out;
    }
    // Read as bounded text: a foreign file's symbol may hold anything.
    const std::string theirs(abi, ::strnlen(abi, 512));
    if (theirs != kEngineAbi) {
        st.why_not = "the GPU plugin " + path + " was built for another version of Engram Desktop (engine ABI '" +
                     theirs + "', this program's is '" + kEngineAbi +
                     "'): install the engram-desktop-cuda package of the same version as engram-desktop";
        ::dlclose(h);
        return out;
    }
    auto entry = reinterpret_cast<GpuPluginEntryFn>(::dlsym(h, kGpuPluginEntry));
    if (!entry) {
        st.why_not = path + " is not an Engram Desktop GPU plugin (it has no " + kGpuPluginEntry + ")";
        ::dlclose(h);
        return out;
    }
    const GpuPluginHost host{kEngineAbi, &logger};
    std::array<char, 1024> why{};
    GpuPlugin* p = entry(&host, why.data(), why.size());
    if (!p) {
        st.why_not = "the GPU plugin " + path + " declined to start: " + std::string(why.data());
        return out;  // not unloaded: it may have started threads or the driver
    }
    out.plugin = p;
    st.loaded = true;
    st.describe = p->describe();
    EG_LOG_INFO("GPU plugin {}: {}", path, st.describe);
    return out;
}

const Loaded& loaded() {
    static const Loaded l = [] {
        Loaded x = load_plugin();
        if (!x.plugin) EG_LOG_INFO("no GPU plugin: {}", x.status.why_not);
        return x;
    }();
    return l;
}

}  // namespace

std::vector<std::string> gpu_plugin_candidates() {
    if (const char* e = std::getenv("ENGRAM_GPU_PLUGIN"); e && *e) {
        const std::string v = e;
        if (v == "none" || v == "off" || v == "0") return {};
        return {v};
    }
    const std::string dir = program_dir();
    if (dir.empty()) return {};
    return {(std::filesystem::path(dir) / ".." / "lib" / "engram-desktop" / kPluginFile).lexically_normal().string()};
}

bool gpu_plugin_attach(const GpuPluginHost* host, std::string* why) {
    if (!host || !host->abi || std::string(host->abi) != kEngineAbi) {
        *why = std::string("the program's engine ABI '") + (host && host->abi ? host->abi : "?") +
               "' is not the plugin's '" + kEngineAbi + "'";
        return false;
    }
    if (host->logger) set_logger_source(host->logger);
    return true;
}

const GpuPluginStatus& gpu_plugin() { return loaded().status; }

std::vector<GpuInfo> cuda_probe(bool measure_bandwidth, std::string* why_none) {
    const Loaded& l = loaded();
    if (!l.plugin) {
        if (why_none) *why_none = l.status.why_not;
        return {};
    }
    return l.plugin->probe(measure_bandwidth, why_none);
}

std::optional<GpuMemoryNow> gpu_memory_now(int device) {
    const Loaded& l = loaded();
    return l.plugin ? l.plugin->memory_now(device) : std::nullopt;
}

Result<std::unique_ptr<LayerBackend>> make_cuda_backend(const Model& m, int device, int64_t first, int64_t last,
                                                        bool output_head, int64_t n_ctx, int64_t n_batch,
                                                        uint64_t engram_cache_bytes) {
    const Loaded& l = loaded();
    if (!l.plugin) return Error{"cuda:" + std::to_string(device) + ": " + l.status.why_not};
    return l.plugin->make_backend(m, GpuRange{device, first, last, output_head, n_ctx, n_batch, engram_cache_bytes});
}

}  // namespace eg
