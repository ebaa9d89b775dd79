// engram-bench: prefill and decode speed of a model on this machine, as JSON.
// Prefill runs p prompt tokens in batches; decode runs n tokens one at a time
// after them (like llama-bench's pp/tg tests). Each is repeated r times after
// one warm-up; medians and spread are reported.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "core/log.h"
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

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"engram-bench: prefill and decode tokens/s of a model"};
    std::string model;
    int n_prompt = 512, n_gen = 128, threads = 0, reps = 5, batch = 512;
    app.add_option("-m,--model", model, "GGUF model")->required()->check(CLI::ExistingFile);
    app.add_option("-p,--n-prompt", n_prompt, "prompt tokens (prefill test)")->check(CLI::Range(1, 1 << 20));
    app.add_option("-n,--n-gen", n_gen, "generated tokens (decode test)")->check(CLI::Range(0, 1 << 20));
    app.add_option("-t,--threads", threads, "threads (default: physical cores)");
    app.add_option("-r,--repetitions", reps, "repetitions")->check(CLI::Range(1, 1000));
    app.add_option("-b,--batch", batch, "prefill batch size")->check(CLI::Range(1, 4096));
    CLI11_PARSE(app, argc, argv);
    eg::set_log_level(spdlog::level::warn);

    auto m = eg::Model::load(model);
    if (!m) {
        std::fprintf(stderr, "error: %s\n", m.message().c_str());
        return 1;
    }
    const eg::Model& mdl = *m.value();
    eg::SessionOptions so;
    so.n_ctx = n_prompt + n_gen + 1;
    so.n_threads = threads;
    so.n_batch = batch;
    auto s = eg::Session::create(mdl, so);
    if (!s) {
        std::fprintf(stderr, "error: %s\n", s.message().c_str());
        return 1;
    }
    eg::Session& sess = *s.value();

    std::mt19937 rng(1234);
    std::uniform_int_distribution<int32_t> tok(0, (int32_t)mdl.hparams().n_vocab - 1);
    std::vector<int32_t> prompt(n_prompt);
    for (auto& t : prompt) t = tok(rng);
    std::vector<int32_t> gen(n_gen);
    for (auto& t : gen) t = tok(rng);

    std::vector<double> pp, tg, ttft;
    eg::SamplerParams greedy;
    greedy.temperature = 0;
    eg::Sampler sampler(greedy);
    std::vector<int32_t> history;
    for (int r = -1; r < reps; ++r) {  // r == -1: warm-up
        sess.truncate(0);
        auto t0 = Clock::now();
        if (auto st = sess.eval(prompt); !st) {
            std::fprintf(stderr, "error: %s\n", st.message().c_str());
            return 1;
        }
        (void)sampler.sample(sess.logits(), sess.n_vocab(), history);
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
        pp.push_back(n_prompt / pp_s);
        ttft.push_back(pp_s * 1000.0);
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
        {"repetitions", reps},
        {"prefill_tokens_per_s", to_json(spread(pp))},
        {"time_to_first_token_ms", to_json(spread(ttft))},
        {"peak_rss_bytes", (uint64_t)ru.ru_maxrss * 1024},
        {"memory", {{"weights_bytes", mem.weights_bytes}, {"kv_bytes", mem.kv_bytes}, {"scratch_bytes", mem.scratch_bytes}}},
    };
    if (n_gen > 0) j["decode_tokens_per_s"] = to_json(spread(tg));
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
}
