#include "server/metrics.h"

#include <fmt/format.h>

namespace eg::server {

namespace {

class Writer {
public:
    void family(const char* name, const char* type, const char* help) {
        out_ += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
    }
    void sample(const char* name, const std::string& labels, double v) {
        out_ += labels.empty() ? fmt::format("{} {}\n", name, v) : fmt::format("{}{{{}}} {}\n", name, labels, v);
    }
    std::string take() { return std::move(out_); }

private:
    std::string out_;
};

// Label values as Prometheus quotes them.
std::string quoted(const std::string& s) {
    std::string o = "\"";
    for (char c : s) {
        if (c == '\\' || c == '"') o += '\\';
        if (c == '\n') { o += "\\n"; continue; }
        o += c;
    }
    return o + "\"";
}

}  // namespace

std::string prometheus_text(const ServerCounters& c, const std::string& model_id, const std::optional<LiveFigures>& live) {
    Writer w;
    static const char* endpoints[ServerCounters::kEndpoints] = {"chat_completions", "completions", "messages"};
    static const char* outcomes[ServerCounters::kOutcomes] = {"completed", "cancelled", "client_error", "rejected", "failed"};
    w.family("engram_requests_total", "counter",
             "Completion requests answered, by endpoint and outcome (cancelled: the client left; rejected: queue full).");
    for (int e = 0; e < ServerCounters::kEndpoints; ++e)
        for (int o = 0; o < ServerCounters::kOutcomes; ++o)
            w.sample("engram_requests_total", fmt::format("endpoint=\"{}\",outcome=\"{}\"", endpoints[e], outcomes[o]),
                     (double)c.requests[e][o]);
    w.family("engram_requests_running", "gauge", "Requests the engine is generating now.");
    w.sample("engram_requests_running", "", c.running);
    w.family("engram_requests_waiting", "gauge", "Requests queued for the engine.");
    w.sample("engram_requests_waiting", "", c.waiting);
    w.family("engram_queue_limit", "gauge", "Requests waiting or running past which new ones get a 429.");
    w.sample("engram_queue_limit", "", c.queue_limit);
    w.family("engram_prompt_tokens_total", "counter", "Prompt tokens of answered requests.");
    w.sample("engram_prompt_tokens_total", "", (double)c.prompt_tokens);
    w.family("engram_completion_tokens_total", "counter", "Tokens generated for requests (cancelled ones included).");
    w.sample("engram_completion_tokens_total", "", (double)c.completion_tokens);
    w.family("engram_time_to_first_token_seconds", "summary", "Time from the engine taking a request to its first token.");
    w.sample("engram_time_to_first_token_seconds_sum", "", c.ttft_seconds_sum);
    w.sample("engram_time_to_first_token_seconds_count", "", (double)c.ttft_count);
    w.family("engram_model_loaded", "gauge", "1 for the model being served.");
    if (!model_id.empty()) w.sample("engram_model_loaded", "model=" + quoted(model_id), 1);
    if (!live) return w.take();

    const auto& t = live->throughput;
    w.family("engram_prefill_tokens_total", "counter", "Prompt tokens the engine evaluated (window and server).");
    w.sample("engram_prefill_tokens_total", "", (double)t.prefill_tokens);
    w.family("engram_decode_tokens_total", "counter", "Tokens the engine generated (window and server).");
    w.sample("engram_decode_tokens_total", "", (double)t.decode_tokens);
    w.family("engram_prefill_tokens_per_second", "gauge", "Prompt tokens per second of prefill time, since the model loaded.");
    w.sample("engram_prefill_tokens_per_second", "", t.prefill_tokens_per_s());
    w.family("engram_decode_tokens_per_second", "gauge", "Generated tokens per second of decode time, since the model loaded.");
    w.sample("engram_decode_tokens_per_second", "", t.decode_tokens_per_s());
    w.family("engram_predicted_decode_tokens_per_second", "gauge", "The planner's predicted decode speed.");
    w.sample("engram_predicted_decode_tokens_per_second", "", live->predicted_decode_tokens_per_s);
    w.family("engram_last_time_to_first_token_seconds", "gauge", "Time to first token of the engine's last reply.");
    if (t.last_ttft_us >= 0) w.sample("engram_last_time_to_first_token_seconds", "", (double)t.last_ttft_us / 1e6);

    w.family("engram_memory_bytes", "gauge", "Bytes the model holds, by tier (vram, dram, ssd) and category.");
    const std::pair<const char*, const MeasuredTier*> tiers[] = {
        {"vram", &live->memory.vram}, {"dram", &live->memory.dram}, {"ssd", &live->memory.ssd}};
    for (const auto& [name, tier] : tiers) {
        const TierUsage& u = tier->usage;
        const std::pair<const char*, uint64_t> cats[] = {{"weights", u.weights_bytes}, {"kv", u.kv_bytes},
                                                         {"engram", u.engram_bytes}, {"experts", u.expert_bytes},
                                                         {"scratch", u.scratch_bytes}};
        for (const auto& [cat, bytes] : cats)
            w.sample("engram_memory_bytes", fmt::format("tier=\"{}\",category=\"{}\"", name, cat), (double)bytes);
    }
    w.family("engram_memory_capacity_bytes", "gauge", "What each tier offers.");
    for (const auto& [name, tier] : tiers)
        w.sample("engram_memory_capacity_bytes", fmt::format("tier=\"{}\"", name), (double)tier->usage.capacity_bytes);
    w.family("engram_memory_budget_bytes", "gauge", "The user's budget of each tier (0: none).");
    for (const auto& [name, tier] : tiers)
        w.sample("engram_memory_budget_bytes", fmt::format("tier=\"{}\"", name), (double)tier->budget_bytes);

    if (live->engram) {
        w.family("engram_rows_hits_total", "counter", "Engram table rows served by each tier.");
        for (const auto& ts : live->engram->tiers)
            w.sample("engram_rows_hits_total", "tier=" + quoted(ts.tier), (double)ts.hits);
        w.family("engram_rows_misses_total", "counter", "Engram table rows a tier did not hold.");
        for (const auto& ts : live->engram->tiers)
            w.sample("engram_rows_misses_total", "tier=" + quoted(ts.tier), (double)ts.misses);
        w.family("engram_rows_hit_rate", "gauge", "Share of Engram row lookups each tier served.");
        for (const auto& ts : live->engram->tiers)
            w.sample("engram_rows_hit_rate", "tier=" + quoted(ts.tier),
                     ts.hits + ts.misses ? (double)ts.hits / (double)(ts.hits + ts.misses) : 0.0);
        w.family("engram_rows_bytes_read_total", "counter", "Bytes of Engram rows read from each tier.");
        for (const auto& ts : live->engram->tiers)
            w.sample("engram_rows_bytes_read_total", "tier=" + quoted(ts.tier), (double)ts.bytes_read);
    }
    if (live->experts) {
        const auto& e = *live->experts;
        w.family("engram_expert_hits_total", "counter", "MoE expert uses served from DRAM.");
        w.sample("engram_expert_hits_total", "", (double)e.stats.hits);
        w.family("engram_expert_misses_total", "counter", "MoE expert uses read from the file.");
        w.sample("engram_expert_misses_total", "", (double)e.stats.misses);
        w.family("engram_expert_hit_rate", "gauge", "Share of expert uses DRAM served.");
        w.sample("engram_expert_hit_rate", "", e.stats.hit_rate());
        w.family("engram_expert_optimal_hit_rate", "gauge", "The best hit rate a cache of this size could have had.");
        w.sample("engram_expert_optimal_hit_rate", "", e.optimal_hit_rate);
    }
    return w.take();
}

}  // namespace eg::server
