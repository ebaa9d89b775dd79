// engram-bench: prefill and decode speed of a model on this machine, as JSON.
// Prefill runs p prompt tokens in batches; decode runs n tokens one at a time
// after them (like llama-bench's pp/tg tests). Each is repeated r times after
// one warm-up; medians and spread are reported. With -d D both run after a
// context of D tokens (like llama-bench -d): attention then reads D more
// cache rows per token. That context is built once, untimed, and is the
// warm-up; every repetition rolls the cache back to it.
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "core/log.h"
#include "engram_model.h"
#include "plan/live.h"
#include "plan/apply.h"
#include "quant/kernels.h"
#include "runtime/session.h"
#include "sampling/sampler.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Spread { double median, min, max, mean, stddev; };

Spread spread(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    Spread s{};
    const size_t n = v.size();
    s.median = n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
    s.min = v.front();
    s.max = v.back();
    double sum = 0, sq = 0;
    for (double x : v) sum += x;
    s.mean = sum / n;
    for (double x : v) sq += (x - s.mean) * (x - s.mean);
    s.stddev = n > 1 ? std::sqrt(sq / (n - 1)) : 0;
    return s;
}

nlohmann::json to_json(const Spread& s) {
    return {{"median", s.median}, {"min", s.min}, {"max", s.max}, {"mean", s.mean}, {"stddev", s.stddev}};
}

// Counters of the timed runs only: after minus before.
eg::ExtensionStats diff(const eg::ExtensionStats& a, const eg::ExtensionStats& b) {
    eg::ExtensionStats d = a;
    for (size_t i = 0; i < d.tiers.size() && i < b.tiers.size(); ++i) {
        d.tiers[i].hits -= b.tiers[i].hits;
        d.tiers[i].misses -= b.tiers[i].misses;
        d.tiers[i].bytes_read -= b.tiers[i].bytes_read;
    }
    d.stall_us -= b.stall_us;
    d.lead_us -= b.lead_us;
    d.rows_fetched -= b.rows_fetched;
    d.lookups -= b.lookups;
    d.compute_us -= b.compute_us;
    return d;
}

// Evicts the model file from the page cache, so that reads from it come
// from the disk (a "cold" SSD run) without needing root.
void drop_page_cache(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY);
    if (fd < 0) return;
    ::fdatasync(fd);
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    ::close(fd);
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"engram-bench: prefill and decode tokens/s of a model"};
    std::string model;
    int n_prompt = 512, n_gen = 128, threads = 0, reps = 5, batch = 512, depth = 0;
    app.add_option("-m,--model", model, "GGUF model")->required()->check(CLI::ExistingFile);
    app.add_option("-p,--n-prompt", n_prompt, "prompt tokens (prefill test; 0: none)")->check(CLI::Range(0, 1 << 20));
    app.add_option("-n,--n-gen", n_gen, "generated tokens (decode test)")->check(CLI::Range(0, 1 << 20));
    app.add_option("-t,--threads", threads, "threads (default: physical cores)");
    app.add_option("-r,--repetitions", reps, "repetitions")->check(CLI::Range(1, 1000));
    app.add_option("-d,--depth", depth, "context tokens before the tests (untimed, random ids; it is the warm-up)")
        ->check(CLI::Range(0, 1 << 20));
    app.add_option("-b,--batch", batch, "prefill batch size")->check(CLI::Range(1, 4096));
    std::string text_file, budget = "100%", policy = "wtinylfu";
    bool no_prefetch = false, buffered = false, no_hot = false, drop_cache = false;
    app.add_option("--text-file", text_file, "take the prompt and the decoded tokens from this text (real n-gram "
                                             "traffic) instead of random ids")->check(CLI::ExistingFile);
    app.add_option("--engram-dram-budget", budget, "Engram models: DRAM for table rows (bytes or %)");
    app.add_option("--engram-policy", policy, "wtinylfu or lru");
    app.add_flag("--no-engram-prefetch", no_prefetch, "fetch Engram rows when a layer needs them");
    app.add_flag("--engram-buffered-io", buffered, "read Engram rows through the page cache");
    app.add_flag("--no-engram-hot-stats", no_hot, "start with a cold cache (no saved hot-row statistics)");
    app.add_flag("--drop-cache", drop_cache, "evict the model file from the page cache before loading");
    int io_threads = 0;
    std::string vram_budget, assume_gpu, engram_vram_budget, expert_budget;
    app.add_option("--expert-dram-budget", expert_budget, "MoE models: DRAM for the experts (bytes or % of them; "
                                                          "default all); the rest is read from the file");
    app.add_option("--vram-budget", vram_budget, "place blocks on the GPU as the planner says for this VRAM budget "
                                                 "(bytes or % of free VRAM; default: CPU only)");
    app.add_option("--engram-vram-budget", engram_vram_budget,
                   "Engram tables of GPU blocks: VRAM for hot rows (bytes or % of the tables; default: what the "
                   "blocks leave)");
    app.add_option("--assume-gpu", assume_gpu, "plan as if this GPU existed: VRAM[,H2D_GBps[,VRAM_GBps]]");
    app.add_option("--engram-io-threads", io_threads, "threads reading Engram rows from the file (default 4)")
        ->check(CLI::Range(0, 64));
    CLI11_PARSE(app, argc, argv);
    eg::set_log_level(spdlog::level::warn);
    if (n_prompt == 0 && n_gen == 0) {
        std::fprintf(stderr, "error: -p and -n are both 0: nothing to measure\n");
        return 2;
    }
    if (depth > 0 && !text_file.empty()) {
        std::fprintf(stderr, "error: --depth builds its context from random ids; it does not take --text-file\n");
        return 2;
    }

    // The budget flags, parsed once: the Engram store and the plan read them.
    eg::PlanRequest r;
    if (auto s = eg::parse_budget_flags({vram_budget.empty() ? "0" : vram_budget, budget, engram_vram_budget, assume_gpu, expert_budget},
                                        r);
        !s) {
        std::fprintf(stderr, "error: %s\n", s.message().c_str());
        return 2;
    }
    if (drop_cache) drop_page_cache(model);
    auto eo = eg::engram::make_options(*r.engram_dram_budget, policy, !no_prefetch, !buffered, !no_hot);
    if (!eo) {
        std::fprintf(stderr, "error: %s\n", eo.message().c_str());
        return 2;
    }
    if (io_threads > 0) eo.value().store.io_threads = io_threads;
    auto m = eg::engram::load_model(model, eo.value());
    if (!m) {
        std::fprintf(stderr, "error: %s\n", m.message().c_str());
        return 1;
    }
    const eg::Model& mdl = *m.value();
    eg::SessionOptions so;
    so.n_ctx = (int64_t)depth + n_prompt + n_gen + 1;
    if (so.n_ctx > mdl.hparams().n_ctx_train) {
        std::fprintf(stderr, "error: -d %d + -p %d + -n %d needs a context of %lld tokens; the model has %lld\n", depth,
                     n_prompt, n_gen, (long long)so.n_ctx, (long long)mdl.hparams().n_ctx_train);
        return 2;
    }
    so.n_threads = threads;
    so.n_batch = batch;
    std::optional<eg::PlannedRun> plan_run;
    const eg::Placement* planned = nullptr;
    {
        // Without --vram-budget everything runs on the CPU, as planned for a
        // VRAM budget of 0: the plan's prediction is reported either way.
        r.n_ctx = so.n_ctx;
        r.n_batch = batch;
        // The prediction is for the decode test: tokens midway through it.
        r.decode_kv_tokens = (int64_t)depth + n_prompt + n_gen / 2;
        auto run = eg::plan_session(mdl.file(), r, so);
        if (!run) {
            std::fprintf(stderr, "error: %s\n", run.message().c_str());
            return 1;
        }
        plan_run = std::move(run.value());
        planned = &plan_run->placement;
    }
    std::vector<std::string> notes;
    auto s = eg::create_session_or_cpu(mdl, so, &notes);
    if (!s) {
        std::fprintf(stderr, "error: %s\n", s.message().c_str());
        return 1;
    }
    eg::Session& sess = *s.value();
    // Saved hot-row statistics warm the Engram cache in the background: let
    // that finish, so the timed runs measure a warm start, not the warm-up.
    if (mdl.extension()) mdl.extension()->wait_idle();

    std::mt19937 rng(1234);
    std::uniform_int_distribution<int32_t> tok(0, (int32_t)mdl.hparams().n_vocab - 1);
    // One prompt and one decode sequence per repetition (the warm-up too).
    // From a text file each repetition takes the next segment, so an Engram
    // cache warmed by earlier segments meets new text, as a user's would.
    const int n_runs = reps + 1;
    std::vector<std::vector<int32_t>> prompts(n_runs, std::vector<int32_t>(n_prompt));
    std::vector<std::vector<int32_t>> gens(n_runs, std::vector<int32_t>(n_gen));
    if (!text_file.empty()) {
        std::ifstream in(text_file, std::ios::binary);
        std::stringstream ss;
        ss << in.rdbuf();
        const std::vector<int32_t> ids = mdl.tokenizer().encode(ss.str(), false, false);
        const size_t need = (size_t)n_runs * (n_prompt + n_gen);
        if (ids.size() < need) {
            std::fprintf(stderr, "error: %s has %zu tokens; %d runs of -p + -n need %zu\n", text_file.c_str(),
                         ids.size(), n_runs, need);
            return 2;
        }
        for (int r = 0; r < n_runs; ++r) {
            auto it = ids.begin() + (size_t)r * (n_prompt + n_gen);
            std::copy(it, it + n_prompt, prompts[r].begin());
            std::copy(it + n_prompt, it + n_prompt + n_gen, gens[r].begin());
        }
    } else {
        // Random ids, the same every repetition (as before: kernels, not caches).
        for (auto& t : prompts[0]) t = tok(rng);
        for (auto& t : gens[0]) t = tok(rng);
        for (int r = 1; r < n_runs; ++r) {
            prompts[r] = prompts[0];
            gens[r] = gens[0];
        }
    }
    std::vector<double> pp, tg, ttft;
    eg::SamplerParams greedy;
    greedy.temperature = 0;
    eg::Sampler sampler(greedy);
    std::vector<int32_t> history;
    eg::ExtensionStats before;
    // -d: the context every repetition starts from, built once, untimed; it
    // stands in for the warm-up run (it pages the weights in and runs every
    // batch path), so the loop starts at the first timed repetition.
    if (depth > 0) {
        std::vector<int32_t> ctx(depth);
        for (auto& t : ctx) t = tok(rng);
        if (auto st = sess.eval(ctx); !st) {
            std::fprintf(stderr, "error: %s\n", st.message().c_str());
            return 1;
        }
    }
    for (int r = depth > 0 ? 0 : -1; r < reps; ++r) {  // r == -1: warm-up
        if (r == 0 && mdl.extension()) before = sess.extension_stats();
        sess.truncate(depth);
        auto t0 = Clock::now();
        const auto& prompt = prompts[r + 1];
        const auto& gen = gens[r + 1];
        if (n_prompt > 0) {
            if (auto st = sess.eval(prompt); !st) {
                std::fprintf(stderr, "error: %s\n", st.message().c_str());
                return 1;
            }
            (void)sampler.sample(sess.logits(), sess.n_vocab(), history);
        }
        auto t1 = Clock::now();
        for (int i = 0; i < n_gen; ++i) {
            if (auto st = sess.eval(&gen[i], 1); !st) {
                std::fprintf(stderr, "error: %s\n", st.message().c_str());
                return 1;
            }
        }
        auto t2 = Clock::now();
        if (r < 0) continue;
        const double pp_s = std::chrono::duration<double>(t1 - t0).count();
        const double tg_s = std::chrono::duration<double>(t2 - t1).count();
        if (n_prompt > 0) {
            pp.push_back(n_prompt / pp_s);
            ttft.push_back(pp_s * 1000.0);
        }
        if (n_gen > 0) tg.push_back(n_gen / tg_s);
    }
    struct rusage ru {};
    getrusage(RUSAGE_SELF, &ru);
    const eg::SessionMemory mem = sess.memory();
    nlohmann::json j = {
        {"engine", "engram"},
        {"model", model},
        {"threads", sess.n_threads()},
        {"isa", eg::cpu_kernel_isa()},
        {"n_prompt", n_prompt},
        {"n_gen", n_gen},
        {"n_depth", depth},
        {"repetitions", reps},
        {"peak_rss_bytes", (uint64_t)ru.ru_maxrss * 1024},
        {"memory", {{"weights_bytes", mem.weights_bytes}, {"kv_bytes", mem.kv_bytes}, {"scratch_bytes", mem.scratch_bytes}}},
    };
    if (n_prompt > 0) {
        j["prefill_tokens_per_s"] = to_json(spread(pp));
        j["time_to_first_token_ms"] = to_json(spread(ttft));
    }
    if (n_gen > 0) j["decode_tokens_per_s"] = to_json(spread(tg));
    if (!text_file.empty()) j["text_file"] = text_file;
    nlohmann::json placement = nlohmann::json::array();
    for (const auto& r : sess.placement()) placement.push_back({{"device", r.device}, {"first", r.first}, {"last", r.last}});
    j["placement"] = placement;
    if (planned) {
        j["plan"] = {{"predicted_decode_tokens_per_s", planned->predicted.decode_tokens_per_s},
                     {"problems", planned->problems},
                     {"notes", notes},
                     {"memory", notes.empty() ? eg::compare_with_measured(*planned, mem) : nlohmann::json()}};
        if (!planned->engram.empty()) {
            // Share of Engram row reads the plan expects DRAM to serve, weighted by table size.
            double w = 0, h = 0;
            for (const auto& e : planned->engram) {
                w += (double)e.table_bytes;
                h += (double)e.table_bytes * e.dram_hit_rate;
            }
            j["plan"]["engram_dram_hit_rate"] = w > 0 ? h / w : 0.0;
        }
        // Bytes per tier as the memory panel shows them: the plan's and the run's.
        const eg::ModelExtension* x = mdl.extension();
        const eg::ExtensionStats es = sess.extension_stats();
        j["plan"]["tiers"] = {{"predicted", eg::to_json(*planned)["tiers"]},
                              {"measured", eg::to_json(eg::live_figures(mem, x ? &es : nullptr, {}, *plan_run))["memory"]}};
    }
    if (const eg::ModelExtension* x = mdl.extension()) {
        j["engram"] = eg::extension_stats_json(diff(sess.extension_stats(), before));
        j["engram"]["describe"] = x->describe();
        j["engram"]["prefetch"] = !no_prefetch;
        j["engram"]["policy"] = policy;
        j["engram"]["dram_budget"] = budget;
        j["memory"]["engram_resident_bytes"] = x->resident_bytes();
    }
    if (const eg::ExpertTier* x = sess.experts()) {
        // The experts' tier over the whole run (warm-up included): measured
        // hit rate next to the best a cache of this size could do.
        const eg::ExpertTierStats es = x->stats();
        j["experts"] = {{"dram_budget", expert_budget},
                        {"policy", x->policy_name()},
                        {"capacity", es.capacity},
                        {"expert_bytes", es.expert_bytes},
                        {"hits", es.hits},
                        {"misses", es.misses},
                        {"hit_rate", es.hit_rate()},
                        {"optimal_hit_rate", x->optimal_hit_rate()},
                        {"traced_hit_rate", es.traced_hit_rate()},
                        {"bytes_read", es.bytes_read},
                        {"reads", es.reads},
                        {"syscalls", es.syscalls},
                        {"stall_ms", (double)es.stall_us / 1000.0}};
    }
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
}
