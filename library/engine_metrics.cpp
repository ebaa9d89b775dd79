#include "library/engine_metrics.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>
#include <string_view>

namespace eg::library {

namespace {

bool name_start(char c) { return std::isalpha((unsigned char)c) || c == '_' || c == ':'; }
bool name_char(char c) { return std::isalnum((unsigned char)c) || c == '_' || c == ':'; }

void skip_blanks(std::string_view s, size_t& i) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
}

std::optional<double> parse_value(std::string_view v) {
    if (v == "NaN") return std::numeric_limits<double>::quiet_NaN();
    if (v == "+Inf" || v == "Inf") return std::numeric_limits<double>::infinity();
    if (v == "-Inf") return -std::numeric_limits<double>::infinity();
    if (!v.empty() && v.front() == '+') v.remove_prefix(1);
    double d = 0;
    const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), d);
    if (ec != std::errc() || end != v.data() + v.size()) return std::nullopt;
    return d;
}

// One sample line; nullopt when it is malformed.
std::optional<MetricSample> parse_line(std::string_view s) {
    MetricSample m;
    size_t i = 0;
    if (i >= s.size() || !name_start(s[i])) return std::nullopt;
    while (i < s.size() && name_char(s[i])) ++i;
    m.name = std::string(s.substr(0, i));
    const size_t name_end = i;
    skip_blanks(s, i);
    if (i < s.size() && s[i] == '{') {
        ++i;
        for (;;) {
            skip_blanks(s, i);
            if (i < s.size() && s[i] == '}') {
                ++i;
                break;
            }
            const size_t start = i;
            if (i >= s.size() || !(std::isalpha((unsigned char)s[i]) || s[i] == '_')) return std::nullopt;
            while (i < s.size() && (std::isalnum((unsigned char)s[i]) || s[i] == '_')) ++i;
            std::string label(s.substr(start, i - start));
            skip_blanks(s, i);
            if (i >= s.size() || s[i] != '=') return std::nullopt;
            ++i;
            skip_blanks(s, i);
            if (i >= s.size() || s[i] != '"') return std::nullopt;
            ++i;
            std::string value;
            bool closed = false;
            while (i < s.size()) {
                const char c = s[i++];
                if (c == '"') {
                    closed = true;
                    break;
                }
                if (c == '\\') {
                    if (i >= s.size()) return std::nullopt;
                    const char e = s[i++];
                    value += e == 'n' ? '\n' : e;  // \\ and \" stand for themselves
                } else {
                    value += c;
                }
            }
            if (!closed) return std::nullopt;
            m.labels.emplace_back(std::move(label), std::move(value));
            skip_blanks(s, i);
            if (i < s.size() && s[i] == ',') ++i;
            else if (i >= s.size() || s[i] != '}') return std::nullopt;
        }
        skip_blanks(s, i);
    } else if (i == name_end) {
        return std::nullopt;  // no blank between the name and the value
    }
    const size_t vstart = i;
    while (i < s.size() && s[i] != ' ' && s[i] != '\t') ++i;
    const auto value = parse_value(s.substr(vstart, i - vstart));
    if (!value) return std::nullopt;
    m.value = *value;
    skip_blanks(s, i);
    if (i < s.size()) {  // an optional timestamp (ms), nothing after it
        int64_t ts = 0;
        const auto [end, ec] = std::from_chars(s.data() + i, s.data() + s.size(), ts);
        if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
    }
    return m;
}

}  // namespace

ParsedMetrics parse_prometheus_text(const QByteArray& text) {
    ParsedMetrics out;
    std::string_view all(text.constData(), (size_t)std::min(text.size(), kMaxMetricsBytes));
    out.truncated = text.size() > kMaxMetricsBytes;
    while (!all.empty()) {
        const size_t nl = all.find('\n');
        std::string_view line = all.substr(0, nl);
        all = nl == std::string_view::npos ? std::string_view() : all.substr(nl + 1);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        size_t i = 0;
        skip_blanks(line, i);
        line.remove_prefix(i);
        if (line.empty() || line.front() == '#') continue;
        if (out.samples.size() >= kMaxMetricsSamples) {
            out.truncated = true;
            break;
        }
        if (auto m = parse_line(line)) out.samples.push_back(std::move(*m));
        else out.skipped_lines++;
    }
    return out;
}

namespace {

struct Names {
    const char* engine;
    const char* prefix;
    std::vector<const char*> running, waiting, kv, tps, generated, prompt;
};

// What each engine calls the figures (their documentation and source of 2025–2026).
const std::vector<Names>& known_engines() {
    static const std::vector<Names> list = {
        {"vLLM", "vllm:", {"vllm:num_requests_running"}, {"vllm:num_requests_waiting"},
         {"vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"}, {}, {"vllm:generation_tokens_total"},
         {"vllm:prompt_tokens_total"}},
        {"SGLang", "sglang:", {"sglang:num_running_reqs"}, {"sglang:num_queue_reqs"}, {"sglang:token_usage"},
         {"sglang:gen_throughput"}, {"sglang:generation_tokens_total"}, {"sglang:prompt_tokens_total"}},
        {"llama.cpp server", "llamacpp:", {"llamacpp:requests_processing"}, {"llamacpp:requests_deferred"},
         {"llamacpp:kv_cache_usage_ratio"}, {"llamacpp:predicted_tokens_seconds"}, {"llamacpp:tokens_predicted_total"},
         {"llamacpp:prompt_tokens_total"}},
        {"Engram Desktop", "engram_", {"engram_requests_running"}, {"engram_requests_waiting"}, {},
         {"engram_decode_tokens_per_second"}, {"engram_completion_tokens_total"}, {"engram_prompt_tokens_total"}},
    };
    return list;
}

// The sum over label sets of the first of `names` the engine publishes.
std::optional<double> figure(const ParsedMetrics& m, const std::vector<const char*>& names) {
    for (const char* name : names) {
        std::optional<double> sum;
        for (const MetricSample& s : m.samples)
            if (s.name == name && std::isfinite(s.value)) sum = sum.value_or(0) + s.value;
        if (sum) return sum;
    }
    return std::nullopt;
}

}  // namespace

EngineFigures engine_figures(const ParsedMetrics& m) {
    EngineFigures f;
    for (const Names& n : known_engines()) {
        bool present = false;
        for (const MetricSample& s : m.samples)
            if (s.name.rfind(n.prefix, 0) == 0) {
                present = true;
                break;
            }
        if (!present) continue;
        f.engine = QString::fromLatin1(n.engine);
        f.running = figure(m, n.running);
        f.waiting = figure(m, n.waiting);
        f.kv_cache_usage = figure(m, n.kv);
        if (f.kv_cache_usage && *f.kv_cache_usage > 1.0 && *f.kv_cache_usage <= 100.0)
            *f.kv_cache_usage /= 100.0;  // a percentage where a fraction was expected
        f.tokens_per_s = figure(m, n.tps);
        f.generated_tokens_total = figure(m, n.generated);
        f.prompt_tokens_total = figure(m, n.prompt);
        break;
    }
    return f;
}

QString engine_from_owner(const QString& owned_by) {
    const QString o = owned_by.toLower();
    if (o == QLatin1String("vllm")) return QStringLiteral("vLLM");
    if (o == QLatin1String("sglang")) return QStringLiteral("SGLang");
    if (o == QLatin1String("llamacpp")) return QStringLiteral("llama.cpp server");
    if (o == QLatin1String("engram-desktop")) return QStringLiteral("Engram Desktop");
    return {};
}

}  // namespace eg::library
