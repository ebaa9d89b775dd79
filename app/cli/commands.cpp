#include "cli/commands.h"

#include <chrono>
#include <cmath>
#include <csignal>
#include <optional>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <algorithm>
#include <map>

#include <nlohmann/json.hpp>

#include "config.h"
#include "backend/gpu.h"
#include "core/log.h"
#include "core/units.h"
#include "engram_model.h"
#include "plan/apply.h"
#include "plan/live.h"
#include "quant/kernels.h"
#include "runtime/chat_session.h"
#include "runtime/generate.h"
#include "runtime/session.h"

namespace eg::cli {

namespace {

std::atomic<bool> g_stop{false};
std::atomic<int> g_interrupts{0};

void on_sigint(int) {
    g_stop.store(true);
    if (g_interrupts.fetch_add(1) >= 1) std::_Exit(130);  // second Ctrl-C quits
}

// The session the options ask for: placed by the planner when a VRAM budget
// is given (or `plan` asks for one: --stats-json reports against it), else
// every block on the CPU. What the plan cannot do is said, not hidden.
std::unique_ptr<Session> session_or_report(const Model& m, const CommonOptions& c, PlannedRun* plan = nullptr) {
    SessionOptions so;
    so.n_ctx = c.ctx;
    so.n_threads = c.threads;
    if (c.vram_budget.empty() && c.expert_budget.empty() && !plan) {
        auto s = Session::create(m, so);
        if (!s) std::fprintf(stderr, "error: %s\n", s.message().c_str());
        return s ? std::move(s.value()) : nullptr;
    }
    PlanRequest r;
    r.n_ctx = c.ctx;
    if (auto s = parse_budget_flags({c.vram_budget, c.engram_budget, c.engram_vram_budget, c.assume_gpu, c.expert_budget}, r); !s) {
        std::fprintf(stderr, "error: %s\n", s.message().c_str());
        return nullptr;
    }
    auto placed = place_session(m, r, so);
    if (!placed) {
        std::fprintf(stderr, "error: %s\n", placed.message().c_str());
        return nullptr;
    }
    const Placement& p = placed->run.placement;
    for (const std::string& problem : p.problems) std::fprintf(stderr, "plan: %s\n", problem.c_str());
    std::fprintf(stderr, "plan: %lld of %lld blocks on the GPU, output head on %s, predicted %.1f tok/s decode\n",
                 (long long)p.n_gpu_blocks, (long long)m.hparams().n_layer, p.output_device.c_str(),
                 p.predicted.decode_tokens_per_s);
    for (const std::string& n : placed->notes) std::fprintf(stderr, "plan: %s\n", n.c_str());
    if (plan) *plan = std::move(placed->run);
    return std::move(placed->session);
}

GenerateOptions generate_options(const SamplingOptions& s) {
    GenerateOptions o;
    o.max_tokens = s.n_predict;
    o.sampling.temperature = s.temp;
    o.sampling.top_k = s.top_k;
    o.sampling.top_p = s.top_p;
    o.sampling.min_p = s.min_p;
    o.sampling.repeat_penalty = s.repeat_penalty;
    o.sampling.presence_penalty = s.presence_penalty;
    o.sampling.frequency_penalty = s.frequency_penalty;
    o.sampling.seed = s.seed;
    o.stop = &g_stop;
    return o;
}

void print_stats(const GenerationResult& r, const Session& s) {
    const auto& st = r.stats;
    const SessionMemory mem = s.memory();
    std::fprintf(stderr,
                 "\n[%s] prompt: %lld tokens (%lld reused) in %.1f ms, %.1f tok/s | reply: %lld tokens, %.1f tok/s | "
                 "first token after %.1f ms | memory: weights %.1f MiB, KV %.1f MiB, scratch %.1f MiB | %d threads, %s\n",
                 stop_reason_name(r.stop_reason), (long long)st.prompt_tokens, (long long)st.reused_tokens, st.prompt_ms,
                 st.prompt_tokens_per_s(), (long long)st.generated_tokens, st.generate_tokens_per_s(),
                 st.time_to_first_token_ms, mem.weights_bytes / 1048576.0, mem.kv_bytes / 1048576.0,
                 mem.scratch_bytes / 1048576.0, s.n_threads(), cpu_kernel_isa());
    if (const ModelExtension* x = s.model().extension()) {
        const ExtensionStats es = x->stats();
        std::string tiers;
        for (const auto& t : es.tiers) {
            const uint64_t n = t.hits + t.misses;
            tiers += " | " + t.tier + ": " + std::to_string(t.hits) + " hits" +
                     (n ? " (" + std::to_string((int)std::lround(100.0 * t.hits / n)) + "%)" : std::string()) +
                     ", " + std::to_string(t.bytes_resident >> 20) + " MiB resident, " +
                     std::to_string(t.bytes_read >> 10) + " KiB read";
        }
        std::fprintf(stderr, "[engram]%s | stall %.1f ms, mean lead %.0f us, module compute %.1f ms\n", tiers.c_str(),
                     es.stall_us / 1000.0, es.rows_fetched ? (double)es.lead_us / es.rows_fetched : 0.0,
                     es.compute_us / 1000.0);
    }
}

void print_piece(const std::string& p) {
    std::fwrite(p.data(), 1, p.size(), stdout);
    std::fflush(stdout);
}

}  // namespace

std::unique_ptr<Model> load_or_report(const CommonOptions& c) {
    auto opt = engram::make_options(c.engram_budget, c.engram_policy, !c.engram_no_prefetch, !c.engram_buffered_io,
                                    !c.engram_no_hot_stats);
    if (!opt) {
        std::fprintf(stderr, "error: %s\n", opt.message().c_str());
        return nullptr;
    }
    auto m = engram::load_model(c.model, opt.value());
    if (!m) {
        std::fprintf(stderr, "error: %s\n", m.message().c_str());
        return nullptr;
    }
    return std::move(m.value());
}

int cmd_gpus(bool json) {
    const GpuPluginStatus& p = gpu_plugin();
    std::string why;
    const std::vector<GpuInfo> gpus = p.loaded ? cuda_probe(false, &why) : std::vector<GpuInfo>{};
    if (!p.loaded) why = p.why_not;
    if (json) {
        nlohmann::json g = nlohmann::json::array();
        for (const GpuInfo& x : gpus)
            g.push_back({{"index", x.index},
                         {"name", x.name},
                         {"vram_total_bytes", x.vram_total},
                         {"vram_free_bytes", x.vram_free},
                         {"compute_capability", std::to_string(x.cc_major) + "." + std::to_string(x.cc_minor)}});
        nlohmann::json j = {{"plugin", {{"loaded", p.loaded}, {"path", p.path}, {"describe", p.describe}}},
                            {"gpus", g}};
        j["why_none"] = gpus.empty() ? nlohmann::json(why) : nlohmann::json(nullptr);
        std::cout << j.dump(2) << "\n";
    } else {
        if (p.loaded) std::cout << "GPU plugin: " << p.path << " (" << p.describe << ")\n";
        for (const GpuInfo& x : gpus)
            std::cout << "cuda:" << x.index << "  " << x.name << "  " << format_bytes(x.vram_free) << " free of "
                      << format_bytes(x.vram_total) << "  compute capability " << x.cc_major << "." << x.cc_minor
                      << "\n";
        if (gpus.size() > 1)
            std::cout << "(a model uses cuda:0 only for now; splitting one over several GPUs is a later step)\n";
        if (gpus.empty()) std::cout << "no GPU: " << why << "; models run on the CPU\n";
    }
    return gpus.empty() ? 1 : 0;
}

int cmd_info(const CommonOptions& c0, bool json) {
    // info reads no table rows: an Engram table stays on disk.
    CommonOptions c = c0;
    c.engram_budget = std::string(1, '0');  // (not = "0": GCC 12 -Wrestrict false positive)
    c.engram_no_hot_stats = true;
    auto m = load_or_report(c);
    if (!m) return 1;
    const HParams& hp = m->hparams();
    std::map<std::string, int> types;
    for (const auto& t : m->file().tensors()) types[std::string(type_name((uint32_t)t.type))]++;
    const int64_t n_ctx = c.ctx > 0 ? std::min(c.ctx, hp.n_ctx_train) : std::min<int64_t>(hp.n_ctx_train, 4096);
    const MemoryEstimate mem = m->memory_estimate(n_ctx, 512);
    nlohmann::json j = {
        {"file", c.model},
        {"architecture", hp.arch},
        {"families", std::string(m->arch().families)},
        {"parameters", m->parameter_count()},
        {"layers", hp.n_layer},
        {"n_embd", hp.n_embd},
        {"n_ff", hp.n_ff},
        {"n_head", hp.n_head},
        {"n_head_kv", hp.n_head_kv},
        {"head_dim", hp.head_dim},
        {"n_vocab", hp.n_vocab},
        {"context_train", hp.n_ctx_train},
        {"rope_freq_base", hp.rope_freq_base},
        {"tied_output", hp.tied_output},
        {"tensor_types", types},
        {"chat_template", m->chat_template().has_value()},
        {"memory", {{"context", n_ctx},
                    {"weights_bytes", mem.weights_bytes},
                    {"kv_bytes", mem.kv_bytes},
                    {"scratch_bytes", mem.scratch_bytes},
                    {"total_bytes", mem.weights_bytes + mem.kv_bytes + mem.scratch_bytes}}},
    };
    if (hp.n_expert > 0)
        j["experts"] = {{"count", hp.n_expert}, {"used_per_token", hp.n_expert_used}, {"width", hp.n_ff_exp}};
    // The first block's operations (model/graph.h): what the backends run.
    const std::string block0 = m->block(0).describe();
    j["block_graph"] = block0;
    std::optional<engram::Config> ecfg;
    if (engram::has_engram(m->file())) {
        auto cfg = engram::read_config(m->file(), hp);
        if (!cfg) {
            std::fprintf(stderr, "error: %s\n", cfg.message().c_str());
            return 1;
        }
        ecfg = std::move(cfg.value());
        nlohmann::json layers = nlohmann::json::array();
        for (const auto& L : ecfg->layers)
            layers.push_back({{"layer", L.layer},
                              {"table", L.table.tensor},
                              {"type", std::string(type_name((uint32_t)L.table.type))},
                              {"rows", L.table.n_rows},
                              {"row_bytes", L.table.row_bytes},
                              {"table_bytes", L.table.n_rows * L.table.row_bytes}});
        j["engram"] = {{"form", ecfg->form == engram::Form::V41 ? "v41" : "demo"},
                       {"layer_ids", ecfg->layer_ids},
                       {"head_count", ecfg->head_count},
                       {"key_length", ecfg->key_length},
                       {"max_ngram_size", ecfg->max_ngram},
                       {"compressed_vocab", ecfg->n_compressed},
                       {"pad_id", ecfg->pad_id},
                       {"conv_kernel_size", ecfg->conv_kernel},
                       {"table_bytes", ecfg->table_bytes()},
                       {"layers", layers}};
    }
    if (json) {
        std::printf("%s\n", j.dump(2).c_str());
        return 0;
    }
    std::string tt;
    for (const auto& [k, v] : types) tt += (tt.empty() ? "" : ", ") + k + " x" + std::to_string(v);
    std::printf("file:          %s\n", c.model.c_str());
    std::printf("architecture:  %s (%s)\n", hp.arch.c_str(), std::string(m->arch().families).c_str());
    std::printf("parameters:    %.1f M\n", m->parameter_count() / 1e6);
    std::printf("shape:         %lld layers, n_embd %lld, n_ff %lld, %lld heads (%lld KV), head size %lld, vocab %lld\n",
                (long long)hp.n_layer, (long long)hp.n_embd, (long long)hp.n_ff, (long long)hp.n_head,
                (long long)hp.n_head_kv, (long long)hp.head_dim, (long long)hp.n_vocab);
    if (hp.n_expert > 0)
        std::printf("experts:       %lld per block, %lld used per token, width %lld\n", (long long)hp.n_expert,
                    (long long)hp.n_expert_used, (long long)hp.n_ff_exp);
    std::printf("context:       %lld tokens (trained)\n", (long long)hp.n_ctx_train);
    std::printf("tensor types:  %s\n", tt.c_str());
    std::printf("chat template: %s\n", m->chat_template() ? "yes" : "no (ChatML is used)");
    std::printf("memory:        %.1f MiB weights + %.1f MiB KV (ctx %lld) + %.1f MiB scratch = %.1f MiB\n",
                mem.weights_bytes / 1048576.0, mem.kv_bytes / 1048576.0, (long long)n_ctx, mem.scratch_bytes / 1048576.0,
                (mem.weights_bytes + mem.kv_bytes + mem.scratch_bytes) / 1048576.0);
    std::printf("block 0:\n");
    for (size_t b = 0, e; b < block0.size(); b = e + 1) {
        e = block0.find('\n', b);
        std::printf("  %s\n", block0.substr(b, e - b).c_str());
    }
    if (ecfg) {
        std::printf("engram:        %s\n", engram::describe(*ecfg).c_str());
        for (const auto& L : ecfg->layers)
            std::printf("  block %-4lld  %s: %llu rows x %lld (%s), %.1f MiB\n", (long long)L.layer, L.table.tensor.c_str(),
                        (unsigned long long)L.table.n_rows, (long long)L.table.key_length,
                        std::string(type_name((uint32_t)L.table.type)).c_str(),
                        L.table.n_rows * L.table.row_bytes / 1048576.0);
    }
    return 0;
}

int cmd_tokenize(const CommonOptions& c, const std::string& text, bool add_special, bool parse_special) {
    auto m = load_or_report(c);
    if (!m) return 1;
    nlohmann::json ids = m->tokenizer().encode(text, add_special, parse_special);
    std::printf("%s\n", ids.dump().c_str());
    return 0;
}

int cmd_run(const CommonOptions& c, const SamplingOptions& so, const std::string& prompt, bool chat,
            const std::string& system, const std::string& stats_json) {
    auto m = load_or_report(c);
    if (!m) return 1;
    PlannedRun plan;
    auto s = session_or_report(*m, c, stats_json.empty() ? nullptr : &plan);
    if (!s) return 1;
    ThroughputCounters counters;
    s->set_counters(&counters);
    std::signal(SIGINT, on_sigint);
    const GenerateOptions opt = generate_options(so);
    Result<GenerationResult> r = Error{""};
    if (chat) {
        auto cs = ChatSession::create(*s);
        if (!cs) {
            std::fprintf(stderr, "error: %s\n", cs.message().c_str());
            return 1;
        }
        cs.value()->set_system_prompt(system);
        r = cs.value()->send(prompt, opt, print_piece,
                             [](const std::string& n) { std::fprintf(stderr, "note: %s\n", n.c_str()); });
    } else {
        const Tokenizer& tok = m->tokenizer();
        r = generate(*s, tok.encode(prompt, true, false), opt, print_piece);
    }
    if (!r) {
        std::fprintf(stderr, "error: %s\n", r.message().c_str());
        return 1;
    }
    std::printf("\n");
    print_stats(r.value(), *s);
    if (!stats_json.empty()) {
        // The memory panel's live object (plan/live.h), for checking the window against.
        const ModelExtension* x = m->extension();
        const ExtensionStats es = s->extension_stats();
        const nlohmann::json j =
            to_json(live_figures(s->memory(), x ? &es : nullptr, counters.snapshot(), plan, s->experts()));
        std::ofstream out(stats_json, std::ios::binary | std::ios::trunc);
        out << j.dump(2) << "\n";
        if (!out.flush()) {
            std::fprintf(stderr, "error: cannot write %s\n", stats_json.c_str());
            return 1;
        }
    }
    return 0;
}

int cmd_logits(const CommonOptions& c, const std::string& tokens_json, const std::string& text, int top,
               const std::string& dump_path, const std::string& dump_dir) {
    auto m = load_or_report(c);
    if (!m) return 1;
    std::vector<int32_t> ids;
    if (!tokens_json.empty()) {
        try {
            ids = nlohmann::json::parse(tokens_json).get<std::vector<int32_t>>();
        } catch (const std::exception& e) {
            std::fprintf(stderr, "error: --tokens: not a JSON array of integers (%s)\n", e.what());
            return 2;
        }
    } else {
        ids = m->tokenizer().encode(text, true, true);
    }
    if (ids.empty()) {
        std::fprintf(stderr, "error: give --tokens or --prompt\n");
        return 2;
    }
    auto s = session_or_report(*m, c);
    if (!s) return 1;
    if (!dump_dir.empty()) {
        s->set_dump([dump_dir](const char* name, int64_t layer, const float* data, int64_t n_tok, int64_t n) {
            std::string path = dump_dir;
            path.append("/").append(name);
            if (layer >= 0) path.append("-").append(std::to_string(layer));
            path.append(".bin");
            if (FILE* f = std::fopen(path.c_str(), "wb")) {
                std::fwrite(data, sizeof(float), (size_t)(n_tok * n), f);
                std::fclose(f);
            }
        });
    }
    if (auto st = s->eval(ids); !st) {
        std::fprintf(stderr, "error: %s\n", st.message().c_str());
        return 1;
    }
    const float* l = s->logits();
    std::vector<int32_t> order(s->n_vocab());
    for (size_t i = 0; i < order.size(); ++i) order[i] = (int32_t)i;
    const size_t k = std::min<size_t>(top, order.size());
    std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int32_t a, int32_t b) { return l[a] > l[b]; });
    nlohmann::json j = {{"tokens", ids}, {"top", nlohmann::json::array()}};
    for (size_t i = 0; i < k; ++i) j["top"].push_back({{"id", order[i]}, {"logit", l[order[i]]}});
    if (!dump_path.empty()) {
        FILE* f = std::fopen(dump_path.c_str(), "wb");
        if (!f || std::fwrite(l, sizeof(float), s->n_vocab(), f) != (size_t)s->n_vocab()) {
            std::fprintf(stderr, "error: cannot write %s\n", dump_path.c_str());
            if (f) std::fclose(f);
            return 1;
        }
        std::fclose(f);
    }
    std::printf("%s\n", j.dump().c_str());
    return 0;
}

int cmd_perplexity(const CommonOptions& c, const std::string& path, bool json) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        std::fprintf(stderr, "error: cannot read %s\n", path.c_str());
        return 1;
    }
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto m = load_or_report(c);
    if (!m) return 1;
    const std::vector<int32_t> ids = m->tokenizer().encode(text, true, false);
    const int64_t n = (int64_t)ids.size();
    if (n < 2) {
        std::fprintf(stderr, "error: %s has %lld token(s); perplexity needs at least 2\n", path.c_str(), (long long)n);
        return 1;
    }
    auto s = session_or_report(*m, c);
    if (!s) return 1;
    const int64_t n_ctx = s->n_ctx(), nv = s->n_vocab(), chunk = 256;
    std::vector<float> rows((size_t)(chunk * nv));
    double nll = 0;
    int64_t scored = 0, windows = 0;
    const auto t0 = std::chrono::steady_clock::now();
    for (int64_t w0 = 0; w0 + 1 < n; w0 += n_ctx) {
        const int64_t w1 = std::min(n, w0 + n_ctx);
        s->truncate(0);
        ++windows;
        for (int64_t i = w0; i < w1; i += chunk) {
            const int64_t nb = std::min(chunk, w1 - i);
            if (auto st = s->eval(ids.data() + i, nb, rows.data()); !st) {
                std::fprintf(stderr, "error: %s\n", st.message().c_str());
                return 1;
            }
            for (int64_t r = 0; r < nb && i + r + 1 < w1; ++r) {
                const float* l = rows.data() + r * nv;
                const double mx = *std::max_element(l, l + nv);
                double sum = 0;
                for (int64_t v = 0; v < nv; ++v) sum += std::exp((double)l[v] - mx);
                nll += mx + std::log(sum) - (double)l[ids[(size_t)(i + r + 1)]];
                ++scored;
            }
        }
        EG_LOG_INFO("perplexity: window {} done, {} positions, running perplexity {:.4f}", windows, scored,
                    std::exp(nll / (double)scored));
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double ppl = std::exp(nll / (double)scored);
    if (json) {
        nlohmann::json j = {{"perplexity", ppl},       {"mean_nll", nll / (double)scored}, {"tokens", n},
                            {"scored", scored},        {"windows", windows},                {"n_ctx", n_ctx},
                            {"seconds", secs}};
        std::printf("%s\n", j.dump().c_str());
    } else {
        std::printf("perplexity %.4f (mean NLL %.4f nats) over %lld predicted tokens: %lld tokens in %lld window(s) "
                    "of up to %lld\n",
                    ppl, nll / (double)scored, (long long)scored, (long long)n, (long long)windows, (long long)n_ctx);
    }
    std::fprintf(stderr, "%.1f s, %.1f tokens/s\n", secs, (double)n / secs);
    return 0;
}

int cmd_chat(const CommonOptions& c, const SamplingOptions& so, const std::string& system) {
    auto m = load_or_report(c);
    if (!m) return 1;
    auto s = session_or_report(*m, c);
    if (!s) return 1;
    auto cs = ChatSession::create(*s);
    if (!cs) {
        std::fprintf(stderr, "error: %s\n", cs.message().c_str());
        return 1;
    }
    ChatSession& chat = *cs.value();
    chat.set_system_prompt(system);
    std::signal(SIGINT, on_sigint);
    std::fprintf(stderr, "Chatting with %s. Ctrl-C stops a reply; /reset, /system TEXT, /exit.\n", c.model.c_str());
    std::string line;
    for (;;) {
        std::fprintf(stderr, "> ");
        std::fflush(stderr);
        if (!std::getline(std::cin, line)) break;
        if (line.empty()) continue;
        if (line == "/exit" || line == "/quit") break;
        if (line == "/reset") {
            chat.clear();
            std::fprintf(stderr, "(conversation cleared)\n");
            continue;
        }
        if (line.rfind("/system ", 0) == 0) {
            chat.set_system_prompt(line.substr(8));
            std::fprintf(stderr, "(system prompt set)\n");
            continue;
        }
        g_stop.store(false);
        g_interrupts.store(0);
        auto r = chat.send(line, generate_options(so), print_piece,
                           [](const std::string& n) { std::fprintf(stderr, "note: %s\n", n.c_str()); });
        if (!r) {
            std::fprintf(stderr, "error: %s\n", r.message().c_str());
            continue;
        }
        std::printf("\n");
        print_stats(r.value(), *s);
    }
    return 0;
}

}  // namespace eg::cli
