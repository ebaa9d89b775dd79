// A GPU plugin for tests (libengram-fakegpu.so): loaded through the same
// dlopen path as libengram-cuda.so (ENGRAM_GPU_PLUGIN names it), it reports
// GPUs that do not exist and runs their blocks with the CPU backend, so that
// the whole GPU path of the programs — probing, planning, placing blocks on
// "cuda:N", moving them back, the panel's VRAM tier — runs on any machine.
//
// Its device holds what a GPU would: the GGUF bytes of the blocks' weights
// (and of the head when it has it), their KV cache and scratch as its CPU
// backend allocates them. A range that does not fit in what is free gets
// the sentence a GPU gives; free memory goes down by what each backend
// holds and back up when it is destroyed.
//
// Set by the environment (read at each probe):
//   ENGRAM_FAKE_GPU_VRAM   memory of each device: "4G", "512M" (default 4G)
//   ENGRAM_FAKE_GPU_COUNT  how many devices (default 1; 0: "no device")
//   ENGRAM_FAKE_GPU_THREADS  CPU threads of each backend (default: all)
#include <array>
#include <atomic>
#include <cstdlib>
#include <string>
#include <thread>

#include "backend/gpu_plugin.h"
#include "core/thread_pool.h"
#include "core/units.h"
#include "model/model.h"
#include "plan/model_info.h"
#include "plan/probe.h"

namespace {

constexpr int kMaxDevices = 8;
std::array<std::atomic<uint64_t>, kMaxDevices> g_held{};

// A size as the programs' budget flags take it ("4G", "512M"); dflt when unset or not one.
uint64_t env_bytes(const char* name, uint64_t dflt) {
    const char* v = std::getenv(name);
    if (!v || !*v) return dflt;
    auto b = eg::parse_byte_budget(v, name);
    return b && b.value().resolve(0) > 0 ? b.value().resolve(0) : dflt;
}

int device_count() {
    const char* v = std::getenv("ENGRAM_FAKE_GPU_COUNT");
    return std::clamp(v && *v ? std::atoi(v) : 1, 0, kMaxDevices);
}

uint64_t vram_total() { return env_bytes("ENGRAM_FAKE_GPU_VRAM", 4ull << 30); }

std::string dev_name(int d) { return "cuda:" + std::to_string(d); }

class FakeGpuBackend final : public eg::LayerBackend {
public:
    FakeGpuBackend(int device, std::unique_ptr<eg::ThreadPool> pool, std::unique_ptr<eg::LayerBackend> cpu,
                   uint64_t weights, uint64_t tied_head)
        : dev_(device), pool_(std::move(pool)), cpu_(std::move(cpu)), weights_(weights), tied_head_(tied_head) {
        first_ = cpu_->first_layer();
        last_ = cpu_->last_layer();
        g_held[(size_t)dev_] += held();
    }
    ~FakeGpuBackend() override { g_held[(size_t)dev_] -= held(); }

    std::string device() const override { return dev_name(dev_); }
    eg::Status forward(float* x, int64_t n_tok, int64_t pos0, eg::ExtensionState* ext,
                       const eg::TensorDumpFn* dump) override {
        return cpu_->forward(x, n_tok, pos0, ext, dump);
    }
    eg::Status output(const float* x_last, float* logits, const eg::TensorDumpFn* dump) override {
        return cpu_->output(x_last, logits, dump);
    }
    eg::DeviceMemory memory() const override {
        const eg::DeviceMemory c = cpu_->memory();
        eg::DeviceMemory m;
        m.device = device();
        m.weights_bytes = weights_;
        m.weights_file_bytes = weights_ - tied_head_;  // as CUDA: the token table stays the host's
        m.kv_bytes = c.kv_bytes;
        m.scratch_bytes = c.scratch_bytes;
        return m;
    }
    uint64_t held() const {
        const eg::DeviceMemory c = cpu_->memory();
        return weights_ + c.kv_bytes + c.scratch_bytes;
    }

private:
    int dev_;
    std::unique_ptr<eg::ThreadPool> pool_;  // before cpu_: the backend uses it until destroyed
    std::unique_ptr<eg::LayerBackend> cpu_;
    uint64_t weights_;
    uint64_t tied_head_;  // a copy of the token table in weights_
};

class FakeGpuPlugin final : public eg::GpuPlugin {
public:
    std::string describe() const override { return "Engram test GPU plugin (blocks run on the CPU)"; }

    std::vector<eg::GpuInfo> probe(bool, std::string* why_none) override {
        std::vector<eg::GpuInfo> out;
        const int n = device_count();
        if (n == 0 && why_none) *why_none = "the fake driver reports no GPU (ENGRAM_FAKE_GPU_COUNT=0)";
        for (int i = 0; i < n; ++i) {
            eg::GpuInfo g;
            g.index = i;
            g.name = "Engram Test GPU " + std::to_string(i);
            g.vram_total = vram_total();
            g.vram_free = g.vram_total - std::min(g.vram_total, g_held[(size_t)i].load());
            g.cc_major = 8;
            g.cc_minor = 9;
            out.push_back(std::move(g));
        }
        return out;
    }

    std::optional<eg::GpuMemoryNow> memory_now(int device) override {
        if (device < 0 || device >= device_count()) return std::nullopt;
        const uint64_t t = vram_total();
        return eg::GpuMemoryNow{t - std::min(t, g_held[(size_t)device].load()), t};
    }

    eg::Result<std::unique_ptr<eg::LayerBackend>> make_backend(const eg::Model& m, const eg::GpuRange& r) override {
        if (r.device < 0 || r.device >= device_count())
            return eg::Error{dev_name(r.device) + ": no such device (the fake driver reports " +
                             std::to_string(device_count()) + ")"};
        auto info = eg::model_info(m.file());
        if (!info) return info.error();
        uint64_t weights = 0;
        for (int64_t il = r.first; il < r.last; ++il) weights += info.value().block_weight_bytes[(size_t)il];
        const bool tied = r.output_head && m.hparams().tied_output;
        if (r.output_head) weights += info.value().output_bytes + info.value().output_norm_bytes;
        const char* t = std::getenv("ENGRAM_FAKE_GPU_THREADS");
        const int threads = t && *t ? std::max(1, std::atoi(t)) : (int)std::max(1u, std::thread::hardware_concurrency());
        auto pool = std::make_unique<eg::ThreadPool>(threads);
        auto cpu = eg::make_cpu_backend(m, r.first, r.last, r.output_head, r.n_ctx, r.n_batch, *pool);
        auto b = std::make_unique<FakeGpuBackend>(r.device, std::move(pool), std::move(cpu), weights,
                                                 tied ? info.value().output_bytes : 0);
        const eg::GpuMemoryNow now = *memory_now(r.device);
        // Free already counts this backend: it fits when nothing went below zero.
        const uint64_t held_all = g_held[(size_t)r.device].load();
        if (held_all > now.total)
            return eg::Error{dev_name(r.device) + ": out of memory on Engram Test GPU " + std::to_string(r.device) +
                             ": blocks " + std::to_string(r.first) + ".." + std::to_string(r.last - 1) + " need " +
                             eg::format_bytes(b->held()) + " but " +
                             eg::format_bytes(now.total - std::min(now.total, held_all - b->held())) + " is free"};
        return std::unique_ptr<eg::LayerBackend>(std::move(b));
    }
};

eg::GpuPlugin* make_plugin(std::string*) {
    static FakeGpuPlugin plugin;
    return &plugin;
}

}  // namespace

EG_GPU_PLUGIN(make_plugin)
